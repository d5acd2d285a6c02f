"""Bootstrap of the storage service: the gRPC server, its health and reflection, and the
outbox relay thread, started and stopped together.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from typing import Any

import dramatiq
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from storage_service import db
from storage_service.blobs import BlobStore
from storage_service.objects import Storage
from storage_service.relay import OutboxRelay, Publisher
from storage_service.servicer import StorageServicer
from storage_service.settings import Settings
from usp import events, jobs
from usp.grpc_auth import ServiceTokenInterceptor
from usp.v1 import storage_service_pb2, storage_service_pb2_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = storage_service_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_WORKERS = 32
_SERVING = health_pb2.HealthCheckResponse.SERVING


class StorageServer:
    """A bound (not yet started) storage server; start() and stop() work from any thread."""

    def __init__(
        self,
        *,
        settings: Settings,
        grpc_server: grpc.Server,
        port: int,
        health_servicer: health.HealthServicer,
        relay: OutboxRelay,
        storage: Storage,
        closers: list[Any],
    ) -> None:
        self.settings = settings
        self.grpc_server = grpc_server
        self.port = port
        self.health = health_servicer
        self.relay = relay
        self.storage = storage
        self._closers = closers
        self._relay_stop = threading.Event()
        self._relay_thread = threading.Thread(
            target=relay.run, args=(self._relay_stop,), name="storage-outbox-relay", daemon=True
        )

    def start(self) -> None:
        """Migrate the database, serve calls, and start relaying the outbox."""
        db.migrate(self.settings.database_url)
        self.grpc_server.start()
        self._relay_thread.start()
        self.relay.wake()  # publish whatever an earlier run left pending
        for service in ("", SERVICE_NAME):
            self.health.set(service, _SERVING)
        logger.info("storage service started", extra={"fields": {"port": self.port}})

    def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, let running ones finish within `grace`, then stop the relay."""
        self.health.enter_graceful_shutdown()
        self.grpc_server.stop(grace).wait()
        self._relay_stop.set()
        self.relay.wake()
        if self._relay_thread.is_alive():
            self._relay_thread.join()
        for close in self._closers:
            close()
        logger.info("storage service stopped", extra={"fields": {"port": self.port}})


def create_server(
    settings: Settings,
    *,
    broker: dramatiq.Broker | None = None,
    publisher: Publisher | None = None,
    address: str | None = None,
) -> StorageServer:
    """Build and bind the server (port 0 picks a free port, see `.port`); call start()."""
    closers: list[Any] = []
    if broker is None:
        broker = jobs.make_broker(settings.broker_url)
        closers.append(broker.close)
    if publisher is None:
        event_publisher = events.EventPublisher(settings.broker_url, settings.namespace)
        closers.append(event_publisher.close)
        publisher = event_publisher
    engine = db.create_engine(settings.database_url)
    closers.append(engine.dispose)
    sessions = db.session_factory(engine)
    relay = OutboxRelay(sessions, broker, publisher, poll_interval=settings.outbox_poll_interval)
    storage = Storage(
        sessions=sessions,
        blobs=BlobStore(settings.blob_dir),
        namespace=settings.namespace,
        on_commit=relay.wake,
    )
    grpc_server, health_servicer = _grpc_server(settings, storage)
    port = grpc_server.add_insecure_port(address or settings.grpc_address)
    return StorageServer(
        settings=settings,
        grpc_server=grpc_server,
        port=port,
        health_servicer=health_servicer,
        relay=relay,
        storage=storage,
        closers=closers,
    )


def _grpc_server(settings: Settings, storage: Storage) -> tuple[grpc.Server, health.HealthServicer]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="storage-grpc"),
        interceptors=[ServiceTokenInterceptor(settings.service_token)],
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    storage_service_pb2_grpc.add_StorageServiceServicer_to_server(StorageServicer(storage), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    return server, health_servicer


def serve(settings: Settings) -> None:
    """Run the storage service until SIGTERM or SIGINT, then stop gracefully."""
    server = create_server(settings)
    server.start()
    stopping = threading.Event()

    def _request_stop(signum: int, _frame: object) -> None:
        logger.info("stop requested", extra={"fields": {"signal": signum}})
        stopping.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    stopping.wait()
    server.stop(settings.grace_period)
