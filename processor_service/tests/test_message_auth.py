"""Only job messages signed with the service token's key run; the rest are dead-lettered
unrun, on the StubBroker and on the real RabbitMQ."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

import dramatiq
import pytest
from google.protobuf import json_format

from processor_service.tests.conftest import TOKEN
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage
from processor_service.tests.harness import FILE_ID, Harness, summary
from processor_service.tests.images import png
from processor_service.tests.test_rabbitmq import rabbitmq_settings, running_worker, succeeded
from tests.waiting import wait_for
from usp import jobs
from usp.message_auth import SIGNATURE_OPTION, message_key, sign_message
from usp.v1 import common_pb2, processor_service_pb2


def task(queue: str, obj: common_pb2.ObjectInfo, *, file_id: str = FILE_ID) -> dramatiq.Message:
    """An unsigned message in the form storage enqueues."""
    job_id = str(uuid.uuid4())
    body = processor_service_pb2.ProcessTask(
        job_id=job_id, file_id=file_id, step="image.thumbnail", input=obj
    )
    message: dramatiq.Message = dramatiq.Message(
        queue_name=queue,
        actor_name=jobs.PROCESS_ACTOR,
        args=(json_format.MessageToDict(body, preserving_proto_field_name=True),),
        kwargs={},
        options={},
        message_id=job_id,
    )
    return message


def forgeries(queue: str, other_queue: str, obj: common_pb2.ObjectInfo) -> list[dramatiq.Message]:
    """Unsigned; signed with another key; signed, then its task changed; signed for the
    other queue but delivered on this one."""
    key = message_key(TOKEN)
    signed = sign_message(task(queue, obj), key)
    tampered_args: Any = ({**signed.args[0], "file_id": "someone-elses-file"},)
    moved = sign_message(task(other_queue, obj), key)
    return [
        task(queue, obj),
        sign_message(task(queue, obj), message_key("not-the-service-token")),
        dataclasses.replace(signed, args=tampered_args),
        dataclasses.replace(moved, queue_name=queue),
    ]


def test_unsigned_and_forged_messages_are_dead_lettered_without_running(
    harness: Harness,
    fake_storage: FakeStorage,
    event_tap: EventTap,
    caplog: pytest.LogCaptureFixture,
) -> None:
    obj = fake_storage.put(png(64, 64))
    forged = forgeries(harness.queue, harness.reprocess_queue, obj)

    with caplog.at_level(logging.ERROR, logger="processor_service.authentication"):
        for message in forged:
            harness.broker.enqueue(message)
        harness.settle()

    assert event_tap.drain() == []
    assert fake_storage.derivatives == []
    assert sorted(m.message_id for m in harness.broker.dead_letters) == sorted(
        m.message_id for m in forged
    )
    refusals = [r for r in caplog.records if r.getMessage() == "job message refused"]
    assert len(refusals) == 4
    assert ["reason=unsigned" in str(r.__dict__["fields"]) for r in refusals].count(True) == 1


def test_a_signed_message_runs_after_forged_ones_were_refused(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    obj = fake_storage.put(png(64, 64))
    for message in forgeries(harness.queue, harness.reprocess_queue, obj):
        harness.broker.enqueue(message)

    job_id = harness.process("image.thumbnail", obj)

    assert summary(event_tap.drain()) == [
        ("job.started", FILE_ID, job_id, 11),
        ("job.succeeded", FILE_ID, job_id, 12),
    ]
    assert len(fake_storage.derivatives) == 2


def test_a_signature_survives_a_retry(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    """A failing step is retried through the delay queue; the retry is still accepted."""
    obj = fake_storage.put(png(64, 64))
    fake_storage.failing_reads = 1

    job_id = harness.process("image.thumbnail", obj)

    assert [(e.type, e.job_id) for e in event_tap.drain()] == [
        ("job.started", job_id),
        ("job.failed", job_id),
        ("job.started", job_id),
        ("job.succeeded", job_id),
    ]
    assert harness.broker.dead_letters == []


@pytest.mark.rabbitmq
def test_a_forged_message_on_rabbitmq_is_dead_lettered_and_a_signed_one_runs(
    rabbitmq_url: str, broker_namespace: str, storage_server: tuple[str, FakeStorage]
) -> None:
    target, fake = storage_server
    settings = rabbitmq_settings(rabbitmq_url, broker_namespace, target)
    obj = fake.put(png(64, 64))
    queue = jobs.process_queue(broker_namespace)
    forged = forgeries(queue, jobs.reprocess_queue(broker_namespace), obj)
    genuine = sign_message(task(queue, obj), message_key(TOKEN))
    tap = EventTap(rabbitmq_url, broker_namespace)
    try:
        with running_worker(settings) as producer:
            producer.declare_queue(queue)
            for message in [*forged, genuine]:
                producer.enqueue(message)
            received = tap.wait_for(succeeded(genuine))
            wait_for(
                lambda: producer.get_queue_message_counts(queue)[2] == len(forged),  # type: ignore[attr-defined]
                what="the forged messages in the dead letter queue",
            )
    finally:
        tap.close()

    assert {e.job_id for e in received} == {genuine.message_id}
    assert SIGNATURE_OPTION in genuine.options
    assert [d.job_id for d in fake.derivatives] == [genuine.message_id] * 2
