from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import kombu
import pytest

from tests.waiting import free_port, wait_for
from usp import events
from usp.message_auth import EVENT_SIGNATURE_HEADER, message_key, sign_event
from usp.v1 import common_pb2, processor_service_pb2, storage_service_pb2
from webapp.accounts.models import User
from webapp.files.consumer import event_queue, run_consumer
from webapp.files.models import File, FileState, Job, JobState
from webapp.files.tests.factories import file_make

pytestmark = pytest.mark.django_db(transaction=True)

KEY = message_key("test-consumer-service-token")


class RunningConsumer:
    def __init__(self, broker_url: str, namespace: str) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=run_consumer,
            kwargs={
                "broker_url": broker_url,
                "namespace": namespace,
                "message_key": KEY,
                "stop": self.stop,
            },
            daemon=True,
        )

    def __enter__(self) -> RunningConsumer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the consumer did not stop"


def declare_queue(broker_url: str, namespace: str) -> None:
    """Bind the webapp's queue first: a topic exchange drops what no queue is bound for."""
    with kombu.Connection(events.kombu_url(broker_url)) as connection:
        event_queue(namespace)(connection.default_channel).declare()


def stored_envelope(file: File, job_id: str) -> common_pb2.EventEnvelope:
    payload = storage_service_pb2.FileStored(
        object=common_pb2.ObjectInfo(
            checksum=common_pb2.Checksum(sha256="ef" * 32), size=3, content_type="text/plain"
        ),
        jobs=[common_pb2.JobRef(job_id=job_id, step="checksum")],
    )
    return events.make_envelope(events.FILE_STORED, file_id=str(file.id), payload=payload)


def succeeded_envelope(file: File, job_id: str) -> common_pb2.EventEnvelope:
    payload = processor_service_pb2.JobSucceeded(attempt=1, step="checksum")
    return events.make_envelope(
        events.JOB_SUCCEEDED, file_id=str(file.id), job_id=job_id, payload=payload, attempt=1
    )


def publish(
    broker_url: str, namespace: str, *envelopes: common_pb2.EventEnvelope, key: bytes = KEY
) -> None:
    publisher = events.EventPublisher(broker_url, namespace, message_key=key)
    try:
        for envelope in envelopes:
            publisher.publish(envelope)
    finally:
        publisher.close()


def publish_raw(
    broker_url: str,
    namespace: str,
    body: bytes,
    *,
    routing_key: str = events.JOB_STARTED,
    headers: dict[str, str] | None = None,
) -> None:
    """Publish `body` as anyone on the broker could; signed with KEY unless `headers`
    says otherwise."""
    if headers is None:
        headers = {EVENT_SIGNATURE_HEADER: sign_event(body, KEY)}
    with kombu.Connection(events.kombu_url(broker_url)) as connection:
        producer = kombu.Producer(connection.default_channel, exchange=events.exchange(namespace))
        producer.publish(
            body,
            routing_key=routing_key,
            content_type=events.CONTENT_TYPE,
            content_encoding="binary",
            headers=headers,
        )


def file_state(file: File) -> str:
    return File.objects.get(pk=file.pk).state


@pytest.fixture
def memory_namespace() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def awaiting(db: None) -> Iterator[File]:
    owner = User.objects.create_user("eve", "eve@example.com", "pw")
    yield file_make(owner=owner, state=FileState.AWAITING_UPLOAD)


def test_published_events_are_applied_by_the_consumer_thread(
    memory_namespace: str, awaiting: File
) -> None:
    job_id = str(uuid.uuid4())
    declare_queue("", memory_namespace)

    with RunningConsumer("", memory_namespace):
        publish("", memory_namespace, stored_envelope(awaiting, job_id))
        wait_for(lambda: file_state(awaiting) == FileState.PROCESSING, what="file.stored applied")
        publish("", memory_namespace, succeeded_envelope(awaiting, job_id))
        wait_for(lambda: file_state(awaiting) == FileState.READY, what="job.succeeded applied")

    assert Job.objects.get(pk=job_id).state == JobState.SUCCEEDED


def test_undecodable_message_is_dropped_and_consumption_goes_on(
    memory_namespace: str, awaiting: File, caplog: pytest.LogCaptureFixture
) -> None:
    declare_queue("", memory_namespace)

    with caplog.at_level(logging.ERROR), RunningConsumer("", memory_namespace):
        publish_raw("", memory_namespace, b"\xff\xfe not a protobuf envelope")
        publish("", memory_namespace, stored_envelope(awaiting, str(uuid.uuid4())))
        wait_for(lambda: file_state(awaiting) == FileState.PROCESSING, what="the valid event")

    with kombu.Connection("memory://") as connection:
        queue = event_queue(memory_namespace)(connection.default_channel)
        _name, remaining, _consumers = queue.queue_declare(passive=True)
    assert remaining == 0
    rejected = [r for r in caplog.records if r.getMessage() == "event message rejected"]
    assert len(rejected) == 1
    assert "not an event envelope" in str(rejected[0].__dict__["fields"])


def test_consumer_stops_promptly_when_asked(memory_namespace: str) -> None:
    consumer = RunningConsumer("", memory_namespace)
    consumer.thread.start()
    wait_for(consumer.thread.is_alive, what="the consumer thread")

    started = time.monotonic()
    consumer.stop.set()
    consumer.thread.join(timeout=10)

    assert not consumer.thread.is_alive()
    assert time.monotonic() - started < 1


def test_consumer_stops_while_the_broker_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    consumer = RunningConsumer(f"amqp://guest:guest@127.0.0.1:{free_port()}//", "nowhere")
    with caplog.at_level(logging.WARNING, logger="webapp.files.consumer"):
        consumer.thread.start()
        wait_for(
            lambda: any(r.getMessage() == "broker unreachable; retrying" for r in caplog.records),
            what="a failed connection attempt",
        )

    consumer.stop.set()
    consumer.thread.join(timeout=10)

    assert not consumer.thread.is_alive()


@pytest.mark.rabbitmq
def test_events_published_on_rabbitmq_are_applied(
    rabbitmq_url: str, broker_namespace: str, awaiting: File
) -> None:
    job_id = str(uuid.uuid4())

    with RunningConsumer(rabbitmq_url, broker_namespace):
        wait_for(
            lambda: _queue_exists(rabbitmq_url, broker_namespace), what="the queue to be declared"
        )
        publish(
            rabbitmq_url,
            broker_namespace,
            stored_envelope(awaiting, job_id),
            succeeded_envelope(awaiting, job_id),
        )
        wait_for(lambda: file_state(awaiting) == FileState.READY, what="both events applied")


def _queue_exists(url: str, namespace: str) -> bool:
    with kombu.Connection(url) as connection:
        try:
            event_queue(namespace)(connection.default_channel).queue_declare(passive=True)
        except connection.channel_errors:
            return False
    return True


def test_consume_events_command_runs_until_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USP_")}
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.config.settings.local",
        USP_DATA_DIR=str(tmp_path),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "consume_events"],
        cwd=Path(__file__).resolve().parents[3],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    stderr = process.stderr
    assert stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stderr.readline, "")))
    reader.start()
    try:
        wait_for(
            lambda: any("consuming events" in line for line in lines), timeout=60, what="the start"
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        reader.join(timeout=5)
        assert any("event consumer stopped" in line for line in lines), lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def forge_and_then_sign(broker_url: str, namespace: str, file: File, job_id: str) -> None:
    """A job.succeeded unsigned, signed with another key, and carrying the signature of
    another event; then the genuine one, which only applies after those three."""
    forged = events.encode(succeeded_envelope(file, job_id))
    other = events.encode(stored_envelope(file, job_id))
    wrong_key = message_key("not-the-service-token")
    for headers in (
        {},
        {EVENT_SIGNATURE_HEADER: sign_event(forged, wrong_key)},
        {EVENT_SIGNATURE_HEADER: sign_event(other, KEY)},
    ):
        publish_raw(
            broker_url, namespace, forged, routing_key=events.JOB_SUCCEEDED, headers=headers
        )


def assert_forged_events_changed_nothing(
    broker_url: str, namespace: str, file: File, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = str(uuid.uuid4())
    with caplog.at_level(logging.ERROR, logger="webapp.files.consumer"):
        publish(broker_url, namespace, stored_envelope(file, job_id))
        wait_for(lambda: file_state(file) == FileState.PROCESSING, what="file.stored applied")
        forge_and_then_sign(broker_url, namespace, file, job_id)
        wait_for(
            lambda: (
                len([r for r in caplog.records if r.getMessage() == "event message rejected"]) == 3
            ),
            what="three forged events rejected",
        )

        assert Job.objects.get(pk=job_id).state == JobState.QUEUED
        assert file_state(file) == FileState.PROCESSING
        reasons = [
            str(r.__dict__["fields"])
            for r in caplog.records
            if r.getMessage() == "event message rejected"
        ]
        assert ["reason=missing or invalid signature" in reason for reason in reasons] == [True] * 3

        publish(broker_url, namespace, succeeded_envelope(file, job_id))
        wait_for(lambda: file_state(file) == FileState.READY, what="the genuine event")
    assert Job.objects.get(pk=job_id).state == JobState.SUCCEEDED


def test_forged_events_are_dropped_and_change_no_job(
    memory_namespace: str, awaiting: File, caplog: pytest.LogCaptureFixture
) -> None:
    declare_queue("", memory_namespace)

    with RunningConsumer("", memory_namespace):
        assert_forged_events_changed_nothing("", memory_namespace, awaiting, caplog)


@pytest.mark.rabbitmq
def test_forged_events_on_rabbitmq_are_dropped_and_change_no_job(
    rabbitmq_url: str, broker_namespace: str, awaiting: File, caplog: pytest.LogCaptureFixture
) -> None:
    with RunningConsumer(rabbitmq_url, broker_namespace):
        wait_for(
            lambda: _queue_exists(rabbitmq_url, broker_namespace), what="the queue to be declared"
        )
        assert_forged_events_changed_nothing(rabbitmq_url, broker_namespace, awaiting, caplog)
