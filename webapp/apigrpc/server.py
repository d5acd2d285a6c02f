"""Bootstrap of the ApiService: the gRPC server with health and reflection."""

from __future__ import annotations

from concurrent import futures

import grpc
from django.conf import settings
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from usp.grpc_tls import TlsFiles, add_port
from usp.v1 import api_service_pb2, api_service_pb2_grpc
from webapp.apigrpc.connections import DatabaseConnectionInterceptor
from webapp.apigrpc.servicer import ApiServicer

SERVICE_NAME = api_service_pb2.DESCRIPTOR.services_by_name["ApiService"].full_name
# A watch holds a worker thread for its whole life: past this many calls at once,
# new ones are refused with RESOURCE_EXHAUSTED instead of queueing unseen.
MAX_WORKERS = 64


def create_server(
    address: str = "127.0.0.1:0",
    *,
    servicer: ApiServicer | None = None,
    max_workers: int = MAX_WORKERS,
    tls: TlsFiles | None = None,
) -> tuple[grpc.Server, int]:
    """A bound, not yet started server and its port (port 0 in `address` picks one),
    serving TLS with `tls`'s certificate when given (clients need no certificate: they
    authenticate with API tokens).

    Django must be set up. Derivative links are absolute under settings.USP.public_url.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="api-grpc"),
        interceptors=[DatabaseConnectionInterceptor((SERVICE_NAME,))],
        maximum_concurrent_rpcs=max_workers,
    )
    servicer = servicer or ApiServicer(public_url=settings.USP.public_url)
    api_service_pb2_grpc.add_ApiServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    for service in ("", SERVICE_NAME):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = add_port(server, address, tls, require_client_auth=False)
    return server, port
