"""Fixtures: a real storage server on port 0 with a stub Dramatiq broker and kombu's
in-memory transport for events, each test in a broker namespace of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import kombu
import kombu.simple
import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.server import StorageServer, create_server
from storage_service.settings import Settings
from usp import events
from usp.message_auth import message_key
from usp.storage_client import StorageClient
from usp.v1 import storage_service_pb2_grpc

TOKEN = "test-service-token"


class FlakyBroker(StubBroker):
    """A stub broker that refuses every message while `down` is True."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refused = 0

    def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
        if self.down:
            self.refused += 1
            raise ConnectionError("broker is down")
        return super().enqueue(message, delay=delay)


def make_settings(data_dir: Path, namespace: str, **overrides: str) -> Settings:
    environ = {
        "USP_DATA_DIR": str(data_dir),
        "USP_SERVICE_TOKEN": TOKEN,
        "USP_BROKER_NAMESPACE": namespace,
        # Long enough that only a commit's wake-up can explain a prompt dispatch.
        "USP_STORAGE_OUTBOX_POLL_INTERVAL": "30",
        "USP_STORAGE_HTTP_PORT": "0",
        **overrides,
    }
    return Settings.from_env(environ)


@pytest.fixture
def namespace() -> str:
    return f"usp-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(tmp_path: Path, namespace: str) -> Settings:
    return make_settings(tmp_path / "data", namespace)


@pytest.fixture
def broker() -> FlakyBroker:
    return FlakyBroker()


@pytest.fixture
def publisher(namespace: str) -> Iterator[events.EventPublisher]:
    event_publisher = events.EventPublisher("", namespace, message_key=message_key(TOKEN))
    yield event_publisher
    event_publisher.close()


@pytest.fixture
def server(
    settings: Settings, broker: FlakyBroker, publisher: events.EventPublisher
) -> Iterator[StorageServer]:
    storage_server = create_server(
        settings, broker=broker, publisher=publisher, address="127.0.0.1:0"
    )
    storage_server.start()
    yield storage_server
    storage_server.stop(0)


@pytest.fixture
def target(server: StorageServer) -> str:
    return f"127.0.0.1:{server.port}"


@pytest.fixture
def client(target: str) -> Iterator[StorageClient]:
    with StorageClient(target, TOKEN, timeout=5.0, stream_timeout=30.0) as storage_client:
        yield storage_client


@pytest.fixture
def stub(target: str) -> Iterator[storage_service_pb2_grpc.StorageServiceStub]:
    """A raw stub, for calls the client wrapper does not make."""
    options = [("grpc.max_send_message_length", 8 * 1024 * 1024)]
    with grpc.insecure_channel(target, options=options) as channel:
        yield storage_service_pb2_grpc.StorageServiceStub(channel)


@pytest.fixture
def sessions(server: StorageServer, settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = db.create_engine(settings.database_url)
    yield db.session_factory(engine)
    engine.dispose()


def count_rows(sessions: sessionmaker[Session], model: type[db.Base]) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


@pytest.fixture
def event_queue(namespace: str) -> Iterator[kombu.simple.SimpleQueue]:
    """A queue on the in-memory transport bound to every event of this namespace."""
    connection = kombu.Connection("memory://")
    queue = kombu.Queue(
        f"{namespace}.test.events", exchange=events.exchange(namespace), routing_key="#"
    )
    simple = connection.SimpleQueue(queue)
    yield simple
    simple.close()
    connection.release()
