from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from usp.v1 import api_service_pb2_grpc
from webapp.apigrpc.server import create_server
from webapp.apigrpc.servicer import ApiServicer

POLL_INTERVAL = 0.05


@pytest.fixture
def servicer() -> ApiServicer:
    return ApiServicer(public_url="https://files.example.org", poll_interval=POLL_INTERVAL)


@pytest.fixture
def api_target(transactional_db: None, servicer: ApiServicer) -> Iterator[str]:
    """A real ApiService on 127.0.0.1, port 0; its threads use their own connections."""
    server, port = create_server("127.0.0.1:0", servicer=servicer)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        servicer.close()
        server.stop(grace=None).wait()


@pytest.fixture
def channel(api_target: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(api_target) as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.Channel) -> api_service_pb2_grpc.ApiServiceStub:
    return api_service_pb2_grpc.ApiServiceStub(channel)
