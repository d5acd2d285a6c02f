"""The storage service against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dramatiq
import pika
import pytest
import sqlalchemy as sa
from google.protobuf.json_format import ParseDict

from storage_service import db
from storage_service.db import utcnow
from storage_service.server import StorageServer, create_server
from storage_service.settings import Settings
from storage_service.tests.conftest import FlakyBroker, make_settings
from storage_service.tests.test_step_results import race_link_against_delete
from storage_service.tests.tus import abort_session, head, open_session, patch, stub_for
from tests.waiting import wait_for
from usp import events, jobs
from usp.message_auth import message_is_authentic, message_key
from usp.storage_client import DerivativeUpload, DispatchedJob, ResultKey, StorageClient
from usp.v1 import processor_service_pb2

from .conftest import TOKEN

DATA = b"bytes committed to a real database\n"
SHA = hashlib.sha256(DATA).hexdigest()


def running(settings: Settings, **injected: object) -> StorageServer:
    server = create_server(settings, address="127.0.0.1:0", **injected)  # type: ignore[arg-type]
    server.start()
    return server


@pytest.fixture
def pg_server(
    tmp_path: Path, namespace: str, postgres_database: str
) -> Iterator[tuple[StorageServer, FlakyBroker]]:
    settings = make_settings(tmp_path, namespace, USP_STORAGE_DATABASE_URL=postgres_database)
    broker = FlakyBroker()
    publisher = events.EventPublisher("", namespace, message_key=message_key(TOKEN))
    server = running(settings, broker=broker, publisher=publisher)
    yield server, broker
    server.stop(0)
    publisher.close()


@pytest.mark.postgres
def test_postgresql_schema_is_migrated_and_writes_commit_and_dispatch(
    pg_server: tuple[StorageServer, FlakyBroker], namespace: str
) -> None:
    server, broker = pg_server
    with StorageClient(f"127.0.0.1:{server.port}", TOKEN) as client:
        result = client.write_object([DATA], file_id="file-1")
        assert client.stat_object(SHA).size == len(DATA)
        assert b"".join(client.read_object(SHA)) == DATA

    engine = db.create_engine(server.settings.database_url)
    sessions = db.session_factory(engine)

    def all_sent() -> bool:
        with sessions() as session:
            pending = sa.select(db.OutboxMessage).where(db.OutboxMessage.sent_at.is_(None))
            return session.scalars(pending).first() is None

    wait_for(all_sent)
    with engine.connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    queue = broker.queues[jobs.process_queue(namespace)]
    message_ids = [dramatiq.Message.decode(body).message_id for body in list(queue.queue)]
    assert version == "0003"
    assert message_ids == [job.job_id for job in result.jobs]


@pytest.mark.rabbitmq
def test_relay_enqueues_jobs_on_the_real_rabbitmq(
    tmp_path: Path, rabbitmq_url: str, broker_namespace: str
) -> None:
    settings = make_settings(tmp_path, broker_namespace, USP_BROKER_URL=rabbitmq_url)
    server = running(settings)
    try:
        with StorageClient(f"127.0.0.1:{server.port}", TOKEN) as client:
            result = client.write_object([DATA], file_id="file-1", pipeline=["checksum"])
        body = _get_one(rabbitmq_url, jobs.process_queue(broker_namespace))
    finally:
        server.stop(0)

    message = dramatiq.Message.decode(body)
    task = ParseDict(message.args[0], processor_service_pb2.ProcessTask())
    assert (message.actor_name, message.message_id) == (jobs.PROCESS_ACTOR, result.jobs[0].job_id)
    assert (task.step, task.input.checksum.sha256) == ("checksum", SHA)
    assert message_is_authentic(message, message_key(TOKEN))


def _get_one(url: str, queue: str) -> bytes:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        bodies: list[bytes] = []

        def fetched() -> bool:
            channel = connection.channel()
            try:
                _method, _properties, body = channel.basic_get(queue, auto_ack=True)
            except pika.exceptions.ChannelClosedByBroker:
                return False  # the queue is not declared yet, and the broker closed the channel
            channel.close()
            if body is not None:
                bodies.append(body)
            return bool(bodies)

        wait_for(fetched, timeout=10)
        return bodies[0]
    finally:
        connection.close()


@pytest.mark.postgres
def test_resumable_upload_commits_and_sessions_expire_on_postgresql(
    pg_server: tuple[StorageServer, FlakyBroker], namespace: str
) -> None:
    server, broker = pg_server
    with stub_for(server) as stub:
        url = open_session(stub, size=len(DATA), declared_sha256=SHA).upload_url
        assert open_session(stub, size=len(DATA), declared_sha256=SHA).upload_url == url
        assert patch(url, DATA[:10], 0).status_code == 204
        assert patch(url, DATA[10:], 10).status_code == 204
        abandoned = open_session(stub, file_id="file-2", size=5, expires_in_seconds=60)

        assert server.sweep_once(utcnow() + timedelta(seconds=120)) == 1
        assert abort_session(stub, "file-2") is False
    with StorageClient(f"127.0.0.1:{server.port}", TOKEN) as client:
        assert b"".join(client.read_object(SHA)) == DATA
    assert head(abandoned.upload_url).status_code == 410
    queue = jobs.process_queue(namespace)
    wait_for(lambda: queue in broker.queues and len(broker.queues[queue].queue) == 2)


@pytest.mark.postgres
def test_results_are_remembered_linked_and_forgotten_and_jobs_redispatched_on_postgresql(
    pg_server: tuple[StorageServer, FlakyBroker], namespace: str
) -> None:
    server, broker = pg_server
    key = ResultKey(SHA, "image.thumbnail", 2, "d" * 64)
    with StorageClient(f"127.0.0.1:{server.port}", TOKEN) as client:
        for file_id in ("file-1", "file-2"):
            client.write_object([DATA], file_id=file_id, pipeline=["checksum"])
        for metadata in ({"first": 1.0}, {"second": 2.0}):
            derivatives = client.store_result(
                key,
                metadata=metadata,
                derivatives=[DerivativeUpload("thumbnail-256", [b"thumb"])],
                file_id="file-1",
                job_id="j1",
            )
        client.link_result(key, file_id="file-2", job_id="j2")
        remembered = client.lookup_result(key)
        [job] = client.dispatch_jobs("file-2", [DispatchedJob("", "checksum")])
        removed = client.delete_file("file-1"), client.delete_file("file-2")
        forgotten = client.lookup_result(key)

    assert remembered is not None
    assert (remembered.metadata, remembered.derivatives) == ({"second": 2.0}, derivatives)
    assert (removed, forgotten) == ((0, 2), None)
    queue = jobs.reprocess_queue(namespace)
    wait_for(lambda: queue in broker.queues and len(broker.queues[queue].queue) == 1)
    [body] = list(broker.queues[queue].queue)
    assert dramatiq.Message.decode(body).message_id == job.job_id


@pytest.mark.postgres
def test_linking_a_result_races_deleting_its_file_safely_on_postgresql(
    pg_server: tuple[StorageServer, FlakyBroker],
) -> None:
    server, _ = pg_server
    engine = db.create_engine(server.settings.database_url)
    try:
        with StorageClient(f"127.0.0.1:{server.port}", TOKEN) as client:
            race_link_against_delete(client, db.session_factory(engine), server.settings, rounds=20)
    finally:
        engine.dispose()
