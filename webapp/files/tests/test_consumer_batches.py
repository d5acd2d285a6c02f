"""The consumer applies the events already delivered together, in one transaction, and
keeps its database connection from one event to the next."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import kombu
import pytest
from django.db import connection, transaction
from django.db.backends.signals import connection_created

from tests.waiting import wait_for
from usp import events
from usp.v1 import common_pb2, processor_service_pb2
from webapp.accounts.models import User
from webapp.files import consumer as consumer_module
from webapp.files.consumer import EventConsumer, event_queue
from webapp.files.models import File, FileState
from webapp.files.tests.factories import file_make
from webapp.files.tests.test_consumer import (
    KEY,
    RunningConsumer,
    declare_queue,
    file_state,
    publish,
    stored_envelope,
    succeeded_envelope,
)

pytestmark = pytest.mark.django_db(transaction=True)

Apply = Callable[..., None]


@pytest.fixture
def namespace() -> str:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    declare_queue("", namespace)
    return namespace


@pytest.fixture
def awaiting(db: None) -> File:
    owner = User.objects.create_user("eve", "eve@example.com", "pw")
    return file_make(owner=owner, state=FileState.AWAITING_UPLOAD)


@pytest.fixture
def job_id() -> str:
    return str(uuid.uuid4())


def started_envelope(file: File, job_id: str) -> common_pb2.EventEnvelope:
    payload = processor_service_pb2.JobStarted(attempt=1, step="checksum")
    return events.make_envelope(
        events.JOB_STARTED, file_id=str(file.id), job_id=job_id, payload=payload, attempt=1
    )


def lifecycle(file: File, job_id: str) -> list[common_pb2.EventEnvelope]:
    return [
        stored_envelope(file, job_id),
        started_envelope(file, job_id),
        succeeded_envelope(file, job_id),
    ]


def queued(namespace: str, broker_url: str = "") -> int:
    """Messages in the queue that no consumer holds."""
    with kombu.Connection(events.kombu_url(broker_url)) as broker:
        queue = event_queue(namespace)(broker.default_channel)
        _name, count, _consumers = queue.queue_declare(passive=True)
    return int(count)


def wrap_event_apply(
    monkeypatch: pytest.MonkeyPatch, wrapper: Callable[[Apply, Any], None]
) -> None:
    """The consumer applies each event through `wrapper(real_apply, envelope)`."""
    real = consumer_module.event_apply
    monkeypatch.setattr(consumer_module, "event_apply", lambda *, envelope: wrapper(real, envelope))


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == text]


def logged_fields(record: logging.LogRecord) -> str:
    """The record's fields as its log line shows them (` key=value` each)."""
    fields = record.__dict__["fields"]
    if isinstance(fields, dict):
        return "".join(f" {key}={value}" for key, value in fields.items())
    return str(fields)


def redelivered_flags(caplog: pytest.LogCaptureFixture) -> list[bool]:
    """Whether each event that failed to apply had been delivered before."""
    failures = messages(caplog, "event not applied")
    return ["redelivered=True" in logged_fields(record) for record in failures]


@pytest.fixture
def in_this_thread(namespace: str) -> Iterator[EventConsumer]:
    """A consumer this test drives itself, one delivery per step of `consume()`."""
    with kombu.Connection("memory://") as broker:
        yield EventConsumer(broker, namespace, message_key=KEY)


def test_events_already_delivered_are_applied_in_one_transaction_in_arrival_order(
    namespace: str, awaiting: File, job_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelopes = lifecycle(awaiting, job_id)
    applied: list[str] = []
    # For each event, what had been applied when its transaction committed.
    seen_at_commit: list[list[str]] = []

    def recording(real: Apply, envelope: common_pb2.EventEnvelope) -> None:
        real(envelope=envelope)
        applied.append(envelope.type)
        transaction.on_commit(lambda: seen_at_commit.append(list(applied)))

    wrap_event_apply(monkeypatch, recording)
    publish("", namespace, *envelopes)

    with RunningConsumer("", namespace):
        wait_for(lambda: len(seen_at_commit) == 3, what="three events committed")

    kinds = [envelope.type for envelope in envelopes]
    assert applied == kinds
    assert seen_at_commit == [kinds] * 3
    assert file_state(awaiting) == FileState.READY
    assert queued(namespace) == 0


def test_a_lone_event_is_applied_without_waiting_for_others(
    namespace: str, awaiting: File, job_id: str, in_this_thread: EventConsumer
) -> None:
    publish("", namespace, stored_envelope(awaiting, job_id))

    started = time.monotonic()
    # The first step takes the event; the second finds nothing more and applies it.
    for _ in in_this_thread.consume(limit=2, safety_interval=5):
        pass

    assert time.monotonic() - started < 1
    assert file_state(awaiting) == FileState.PROCESSING
    assert queued(namespace) == 0


def test_a_failing_batch_is_applied_one_by_one_and_only_the_failing_event_goes_back(
    namespace: str,
    awaiting: File,
    job_id: str,
    in_this_thread: EventConsumer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored, poison, succeeded = lifecycle(awaiting, job_id)
    committed: list[str] = []

    def failing_on_poison(real: Apply, envelope: common_pb2.EventEnvelope) -> None:
        if envelope.event_id == poison.event_id:
            raise RuntimeError("the database refused this one")
        real(envelope=envelope)
        transaction.on_commit(lambda: committed.append(envelope.type))

    wrap_event_apply(monkeypatch, failing_on_poison)
    publish("", namespace, stored, poison, succeeded)

    with caplog.at_level(logging.INFO, logger="webapp.files.consumer"):
        # Three steps take the events, the fourth finds nothing more and applies them.
        for _ in in_this_thread.consume(limit=4, safety_interval=5):
            pass

    assert len(messages(caplog, "event batch not applied; applying its events one by one")) == 1
    assert committed == [events.FILE_STORED, events.JOB_SUCCEEDED]
    assert redelivered_flags(caplog) == [False]
    assert file_state(awaiting) == FileState.READY
    assert queued(namespace) == 1  # the poison event, back in the queue


def broker(transport: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    """The broker URL ("" for kombu's in-memory transport) and a namespace whose event
    queue is declared."""
    if transport == "memory":
        return "", str(request.getfixturevalue("namespace"))
    url, namespace = (
        request.getfixturevalue("rabbitmq_url"),
        request.getfixturevalue("broker_namespace"),
    )
    declare_queue(url, namespace)
    return url, namespace


@pytest.mark.parametrize(
    "transport", ["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)]
)
def test_a_poison_event_is_tried_twice_then_dropped_and_the_others_apply(
    transport: str,
    request: pytest.FixtureRequest,
    awaiting: File,
    job_id: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, namespace = broker(transport, request)
    stored, poison, succeeded = lifecycle(awaiting, job_id)

    def failing_on_poison(real: Apply, envelope: common_pb2.EventEnvelope) -> None:
        if envelope.event_id == poison.event_id:
            raise RuntimeError("the database refused this one")
        real(envelope=envelope)

    wrap_event_apply(monkeypatch, failing_on_poison)
    publish(url, namespace, stored, poison, succeeded)

    with (
        caplog.at_level(logging.INFO, logger="webapp.files.consumer"),
        RunningConsumer(url, namespace),
    ):
        wait_for(lambda: len(redelivered_flags(caplog)) == 2, what="the poison event tried twice")
        wait_for(lambda: file_state(awaiting) == FileState.READY, what="the other events")
        wait_for(lambda: queued(namespace, url) == 0, what="the poison event dropped")

    assert redelivered_flags(caplog) == [False, True]


def test_an_unreadable_event_in_a_batch_is_rejected_and_the_others_apply(
    namespace: str, awaiting: File, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    stored, unreadable, succeeded = lifecycle(awaiting, job_id)
    unreadable.type = events.JOB_SUCCEEDED  # its payload is a JobStarted
    publish("", namespace, stored, unreadable, succeeded)

    with (
        caplog.at_level(logging.ERROR, logger="webapp.files.consumer"),
        RunningConsumer("", namespace),
    ):
        wait_for(lambda: file_state(awaiting) == FileState.READY, what="the readable events")
        wait_for(lambda: queued(namespace) == 0, what="the unreadable event rejected")

    rejected = messages(caplog, "event message rejected")
    assert len(rejected) == 1
    assert "carries usp.v1.JobStarted" in logged_fields(rejected[0])
    assert redelivered_flags(caplog) == []


def test_events_waiting_when_a_stop_is_asked_are_applied_before_the_consumer_stops(
    namespace: str, awaiting: File, job_id: str, in_this_thread: EventConsumer
) -> None:
    publish("", namespace, stored_envelope(awaiting, job_id), succeeded_envelope(awaiting, job_id))
    consuming = in_this_thread.consume(safety_interval=0.1)
    next(consuming)  # file.stored is taken and waits for more
    assert file_state(awaiting) == FileState.AWAITING_UPLOAD

    in_this_thread.should_stop = True
    assert list(consuming) == []

    assert file_state(awaiting) == FileState.PROCESSING
    assert queued(namespace) == 1  # job.succeeded, never taken


@pytest.mark.rabbitmq
def test_events_waiting_when_consumption_breaks_off_are_left_to_the_broker(
    rabbitmq_url: str, broker_namespace: str, awaiting: File, job_id: str
) -> None:
    declare_queue(rabbitmq_url, broker_namespace)
    publish(
        rabbitmq_url,
        broker_namespace,
        stored_envelope(awaiting, job_id),
        succeeded_envelope(awaiting, job_id),
    )
    with kombu.Connection(rabbitmq_url) as broker:
        consuming = EventConsumer(broker, broker_namespace, message_key=KEY).consume(
            safety_interval=0.1
        )
        next(consuming)  # file.stored is taken and waits for more

        consuming.close()

    assert file_state(awaiting) == FileState.AWAITING_UPLOAD
    wait_for(lambda: queued(broker_namespace, rabbitmq_url) == 2, what="both events queued again")


def test_consumer_keeps_its_database_connection_from_one_event_to_the_next(
    namespace: str, awaiting: File, job_id: str
) -> None:
    opened: list[threading.Thread] = []

    def record(**_: Any) -> None:
        opened.append(threading.current_thread())

    connection_created.connect(record)
    try:
        with RunningConsumer("", namespace) as consumer:
            publish("", namespace, stored_envelope(awaiting, job_id))
            wait_for(lambda: file_state(awaiting) == FileState.PROCESSING, what="file.stored")
            publish("", namespace, succeeded_envelope(awaiting, job_id))
            wait_for(lambda: file_state(awaiting) == FileState.READY, what="job.succeeded")
    finally:
        connection_created.disconnect(record)

    assert opened.count(consumer.thread) == 1


def test_consumer_recovers_when_its_database_connection_is_closed_under_it(
    namespace: str,
    awaiting: File,
    job_id: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def closing_after_file_stored(real: Apply, envelope: common_pb2.EventEnvelope) -> None:
        real(envelope=envelope)
        if envelope.type == events.FILE_STORED:
            # Behind Django's back, as a database restart would.
            transaction.on_commit(connection.connection.close)

    wrap_event_apply(monkeypatch, closing_after_file_stored)

    with (
        caplog.at_level(logging.INFO, logger="webapp.files.consumer"),
        RunningConsumer("", namespace),
    ):
        publish("", namespace, stored_envelope(awaiting, job_id))
        wait_for(lambda: file_state(awaiting) == FileState.PROCESSING, what="file.stored")
        publish("", namespace, succeeded_envelope(awaiting, job_id))
        wait_for(lambda: file_state(awaiting) == FileState.READY, what="job.succeeded")

    # The event that met the broken connection failed once and applied on a fresh one.
    assert redelivered_flags(caplog) == [False]
