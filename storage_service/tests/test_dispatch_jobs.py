"""DispatchJobs: retries and reprocessing of a stored file, through the outbox."""

from __future__ import annotations

import hashlib
import uuid

import dramatiq
import grpc
import pytest
from google.protobuf.json_format import ParseDict
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.server import StorageServer
from storage_service.tests.conftest import TOKEN, FlakyBroker, count_rows
from tests.waiting import wait_for
from usp import jobs
from usp.errors import ServiceError
from usp.message_auth import message_is_authentic, message_key
from usp.storage_client import DispatchedJob, StorageClient
from usp.v1 import processor_service_pb2

DATA = b"words to process again\n"
SHA = hashlib.sha256(DATA).hexdigest()


def queued(broker: FlakyBroker, queue_name: str) -> list[dramatiq.Message]:
    queue = broker.queues.get(queue_name)
    return [] if queue is None else [dramatiq.Message.decode(body) for body in list(queue.queue)]


def task_of(message: dramatiq.Message) -> processor_service_pb2.ProcessTask:
    return ParseDict(message.args[0], processor_service_pb2.ProcessTask())


@pytest.fixture
def stored(client: StorageClient, broker: FlakyBroker, namespace: str) -> list[DispatchedJob]:
    """A text file whose upload jobs were dispatched and taken off the queue."""
    result = client.write_object([DATA], file_id="file-1", name="a.txt")
    wait_for(lambda: len(queued(broker, jobs.process_queue(namespace))) == len(result.jobs))
    broker.flush_all()
    return result.jobs


def test_retry_keeps_the_job_id_and_a_reprocess_gets_a_new_forced_job_on_the_reprocess_queue(
    client: StorageClient, broker: FlakyBroker, namespace: str, stored: list[DispatchedJob]
) -> None:
    failed = stored[0]

    dispatched = client.dispatch_jobs(
        "file-1", [DispatchedJob(failed.job_id, failed.step), DispatchedJob("", "checksum")]
    )

    retry, reprocess = dispatched
    assert retry == failed
    assert (reprocess.step, uuid.UUID(reprocess.job_id).version) == ("checksum", 4)
    assert reprocess.job_id not in {job.job_id for job in stored}
    queue_name = jobs.reprocess_queue(namespace)
    messages = wait_for(lambda: (m := queued(broker, queue_name)) and len(m) == 2 and m)
    assert [(m.actor_name, m.queue_name, m.message_id) for m in messages] == [
        (jobs.PROCESS_ACTOR, queue_name, job.job_id) for job in dispatched
    ]
    tasks = [task_of(m) for m in messages]
    assert [(t.job_id, t.file_id, t.step, t.force) for t in tasks] == [
        (failed.job_id, "file-1", failed.step, False),
        (reprocess.job_id, "file-1", "checksum", True),
    ]
    assert {(t.input.checksum.sha256, t.input.size, t.input.content_type) for t in tasks} == {
        (SHA, len(DATA), "text/plain")
    }
    assert queued(broker, jobs.process_queue(namespace)) == []
    assert [message_is_authentic(m, message_key(TOKEN)) for m in messages] == [True, True]


def test_fresh_dispatch_runs_on_the_queue_of_fresh_uploads(
    client: StorageClient, broker: FlakyBroker, namespace: str, stored: list[DispatchedJob]
) -> None:
    [job] = client.dispatch_jobs("file-1", [DispatchedJob("", "text.stats")], fresh=True)

    messages = wait_for(lambda: queued(broker, jobs.process_queue(namespace)))
    assert [(m.message_id, task_of(m).step, task_of(m).force) for m in messages] == [
        (job.job_id, "text.stats", True)
    ]
    assert queued(broker, jobs.reprocess_queue(namespace)) == []


def test_jobs_dispatched_while_the_broker_is_down_are_sent_once_it_is_back(
    client: StorageClient,
    broker: FlakyBroker,
    namespace: str,
    stored: list[DispatchedJob],
    server: StorageServer,
) -> None:
    broker.down = True
    [job] = client.dispatch_jobs("file-1", [DispatchedJob("", "checksum")])
    wait_for(lambda: broker.refused >= 1)

    broker.down = False
    server.relay.wake()

    messages = wait_for(lambda: queued(broker, jobs.reprocess_queue(namespace)))
    assert [m.message_id for m in messages] == [job.job_id]


@pytest.mark.parametrize(
    ("file_id", "requested", "status", "message"),
    [
        ("no-such-file", [DispatchedJob("", "checksum")], "NOT_FOUND", "file no-such-file has"),
        ("file-1", [DispatchedJob("", "checksum"), DispatchedJob("", "x")], "INVALID_ARGUMENT", ""),
        ("file-1", [], "INVALID_ARGUMENT", "at least one job is required"),
        ("file-1", [DispatchedJob("j" * 65, "checksum")], "INVALID_ARGUMENT", "job ids are"),
        ("", [DispatchedJob("", "checksum")], "INVALID_ARGUMENT", "file_id is required"),
    ],
)
def test_refused_dispatch_writes_nothing_to_the_outbox(
    client: StorageClient,
    sessions: sessionmaker[Session],
    stored: list[DispatchedJob],
    file_id: str,
    requested: list[DispatchedJob],
    status: str,
    message: str,
) -> None:
    before = count_rows(sessions, db.OutboxMessage)

    with pytest.raises(ServiceError) as excinfo:
        client.dispatch_jobs(file_id, requested)

    assert excinfo.value.status == getattr(grpc.StatusCode, status)
    assert excinfo.value.message.startswith(message)
    assert count_rows(sessions, db.OutboxMessage) == before


def test_unknown_step_is_named_in_the_refusal(
    client: StorageClient, stored: list[DispatchedJob]
) -> None:
    with pytest.raises(ServiceError) as excinfo:
        client.dispatch_jobs("file-1", [DispatchedJob("", "video.transcode")])

    assert excinfo.value.message.startswith("unknown pipeline step 'video.transcode'")


def test_deleted_file_cannot_be_reprocessed(
    client: StorageClient, stored: list[DispatchedJob]
) -> None:
    client.delete_file("file-1")

    with pytest.raises(ServiceError) as excinfo:
        client.dispatch_jobs("file-1", [DispatchedJob("", "checksum")])

    assert excinfo.value.status == grpc.StatusCode.NOT_FOUND
