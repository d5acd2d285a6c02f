"""Dispatch through the outbox: job messages and the file.stored event."""

from __future__ import annotations

import hashlib
import time

import dramatiq
import kombu.simple
import sqlalchemy as sa
from google.protobuf.json_format import ParseDict
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.server import StorageServer
from storage_service.tests.conftest import FlakyBroker
from tests.waiting import wait_for
from usp import events, jobs
from usp.storage_client import DerivativeUpload, ResultKey, StorageClient
from usp.v1 import common_pb2, processor_service_pb2, storage_service_pb2

DATA = b"plain text to process\n"
SHA = hashlib.sha256(DATA).hexdigest()


def outbox_rows(sessions: sessionmaker[Session]) -> list[db.OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(sa.select(db.OutboxMessage).order_by(db.OutboxMessage.id)))


def queued_messages(broker: FlakyBroker, namespace: str) -> list[dramatiq.Message]:
    queue = broker.queues.get(jobs.process_queue(namespace))
    if queue is None:
        return []
    return [dramatiq.Message.decode(body) for body in list(queue.queue)]


def test_job_messages_name_the_actor_queue_and_stored_input(
    client: StorageClient, broker: FlakyBroker, namespace: str
) -> None:
    result = client.write_object([DATA], file_id="file-1", name="a.txt")

    wait_for(lambda: len(queued_messages(broker, namespace)) == 2)
    messages = queued_messages(broker, namespace)
    tasks = [ParseDict(m.args[0], processor_service_pb2.ProcessTask()) for m in messages]
    assert [(m.actor_name, m.queue_name, m.message_id) for m in messages] == [
        (jobs.PROCESS_ACTOR, f"{namespace}.process", job.job_id) for job in result.jobs
    ]
    assert [(t.job_id, t.file_id, t.step) for t in tasks] == [
        (job.job_id, "file-1", job.step) for job in result.jobs
    ]
    assert {t.input.checksum.sha256 for t in tasks} == {SHA}
    assert {(t.input.size, t.input.content_type) for t in tasks} == {(len(DATA), "text/plain")}
    assert [m.kwargs for m in messages] == [{}, {}]


def test_commit_wakes_the_relay_without_waiting_for_the_poll_interval(
    server: StorageServer, client: StorageClient, broker: FlakyBroker, namespace: str
) -> None:
    assert server.settings.outbox_poll_interval == 30
    started = time.monotonic()
    client.write_object([DATA], file_id="file-1")

    wait_for(lambda: len(queued_messages(broker, namespace)) == 2, timeout=5)
    assert time.monotonic() - started < 5


def test_file_stored_event_reaches_a_queue_bound_to_the_exchange(
    client: StorageClient, event_queue: kombu.simple.SimpleQueue
) -> None:
    result = client.write_object([DATA], file_id="file-1")

    message = event_queue.get(timeout=5)
    envelope = events.decode(message.body)
    payload = storage_service_pb2.FileStored()
    assert envelope.payload.Unpack(payload)
    assert (envelope.type, envelope.file_id, envelope.job_id, envelope.sequence) == (
        events.FILE_STORED,
        "file-1",
        "",
        0,
    )
    assert message.delivery_info["routing_key"] == events.FILE_STORED
    assert payload == storage_service_pb2.FileStored(
        object=common_pb2.ObjectInfo(
            checksum=common_pb2.Checksum(sha256=SHA), size=len(DATA), content_type="text/plain"
        ),
        jobs=[common_pb2.JobRef(job_id=job.job_id, step=job.step) for job in result.jobs],
    )


def test_upload_commits_while_the_broker_is_down_and_is_dispatched_once_it_is_back(
    server: StorageServer,
    client: StorageClient,
    broker: FlakyBroker,
    namespace: str,
    sessions: sessionmaker[Session],
    event_queue: kombu.simple.SimpleQueue,
) -> None:
    broker.down = True
    result = client.write_object([DATA], file_id="file-1")

    assert client.stat_object(SHA).sha256 == SHA
    wait_for(lambda: broker.refused >= 1)
    wait_for(lambda: any(row.last_error for row in outbox_rows(sessions)))
    rows = outbox_rows(sessions)
    assert [(row.kind, row.sent_at is None) for row in rows] == [
        ("event", False),
        ("job", True),
        ("job", True),
    ]
    assert rows[1].last_error == "ConnectionError: broker is down"
    assert queued_messages(broker, namespace) == []

    broker.down = False
    server.relay.wake()

    wait_for(lambda: all(row.sent_at is not None for row in outbox_rows(sessions)))
    messages = queued_messages(broker, namespace)
    assert [m.message_id for m in messages] == [job.job_id for job in result.jobs]
    assert events.decode(event_queue.get(timeout=5).body).type == events.FILE_STORED
    assert [row.last_error for row in outbox_rows(sessions)] == [None, None, None]


def test_storing_a_step_result_dispatches_nothing(
    client: StorageClient, sessions: sessionmaker[Session]
) -> None:
    client.write_object([DATA], file_id="file-1", pipeline=["checksum"])
    client.store_result(
        ResultKey(SHA, "image.thumbnail", 1, ""),
        file_id="file-1",
        job_id="j",
        metadata={},
        derivatives=[DerivativeUpload("thumbnail-256", [b"thumb"], size=5)],
    )

    assert [row.kind for row in outbox_rows(sessions)] == ["event", "job"]
