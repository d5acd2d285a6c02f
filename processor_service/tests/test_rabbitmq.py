"""The processor against the real RabbitMQ: a task in, a job.succeeded event out."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from google.protobuf import json_format

from processor_service.settings import Settings
from processor_service.steps import REGISTRY, Step
from processor_service.tests.conftest import TOKEN
from processor_service.tests.event_tap import Envelopes, EventTap
from processor_service.tests.fake_storage import FakeStorage
from processor_service.tests.images import png
from processor_service.tests.test_queues import GatedStep, quick
from processor_service.worker import create_worker
from tests.waiting import wait_for
from usp import jobs
from usp.message_auth import message_key, sign_message
from usp.v1 import common_pb2, processor_service_pb2

pytestmark = pytest.mark.rabbitmq


def task_message(
    namespace: str,
    obj: common_pb2.ObjectInfo,
    *,
    step: str = "image.thumbnail",
    reprocess: bool = False,
) -> dramatiq.Message:
    """The message exactly as storage enqueues it: by actor name, id = job id, signed."""
    job_id = str(uuid.uuid4())
    task = processor_service_pb2.ProcessTask(
        job_id=job_id, file_id="file-rmq", step=step, input=obj, force=reprocess
    )
    queue = jobs.reprocess_queue(namespace) if reprocess else jobs.process_queue(namespace)
    message: dramatiq.Message = dramatiq.Message(
        queue_name=queue,
        actor_name=jobs.PROCESS_ACTOR,
        args=(json_format.MessageToDict(task, preserving_proto_field_name=True),),
        kwargs={},
        options={},
        message_id=job_id,
    )
    return sign_message(message, message_key(TOKEN))


def rabbitmq_settings(
    rabbitmq_url: str, namespace: str, target: str, *, worker_threads: int = 1
) -> Settings:
    return Settings(
        storage_target=target,
        service_token=TOKEN,
        broker_url=rabbitmq_url,
        namespace=namespace,
        worker_threads=worker_threads,
        job_started_delay_ms=0,
    )


@contextmanager
def running_worker(settings: Settings) -> Iterator[dramatiq.Broker]:
    """A started worker on RabbitMQ, and a producer broker to enqueue with."""
    worker = create_worker(settings)
    worker.worker_timeout = 100
    producer = jobs.make_broker(settings.broker_url)
    worker.start()
    try:
        yield producer
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()
        producer.close()


def enqueue(producer: dramatiq.Broker, message: dramatiq.Message) -> None:
    producer.declare_queue(message.queue_name)
    producer.enqueue(message)


def succeeded(message: dramatiq.Message) -> Callable[[Envelopes], bool]:
    return lambda got: any(
        e.type == "job.succeeded" and e.job_id == message.message_id for e in got
    )


def test_task_enqueued_on_rabbitmq_is_processed_and_job_succeeded_is_published(
    rabbitmq_url: str, broker_namespace: str, storage_server: tuple[str, FakeStorage]
) -> None:
    target, fake = storage_server
    settings = rabbitmq_settings(rabbitmq_url, broker_namespace, target)
    message = task_message(broker_namespace, fake.put(png(800, 400)))
    tap = EventTap(rabbitmq_url, broker_namespace)
    worker = create_worker(settings)
    worker.worker_timeout = 100
    producer = jobs.make_broker(rabbitmq_url)
    worker.start()
    try:
        producer.declare_queue(message.queue_name)
        producer.enqueue(message)
        received = tap.wait_for(lambda got: "job.succeeded" in [e.type for e in got])
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()
        producer.close()
        tap.close()

    assert isinstance(worker.broker, RabbitmqBroker)
    assert [(e.type, e.job_id) for e in received] == [
        ("job.started", message.message_id),
        ("job.succeeded", message.message_id),
    ]
    succeeded = processor_service_pb2.JobSucceeded()
    assert received[1].payload.Unpack(succeeded)
    assert [(d.kind, d.object.content_type) for d in succeeded.derivatives] == [
        ("thumbnail-256", "image/webp"),
        ("thumbnail-1024", "image/webp"),
    ]
    assert [d.kind for d in fake.derivatives] == ["thumbnail-256", "thumbnail-1024"]


def test_task_enqueued_on_the_reprocess_queue_is_processed(
    rabbitmq_url: str, broker_namespace: str, storage_server: tuple[str, FakeStorage]
) -> None:
    target, fake = storage_server
    settings = rabbitmq_settings(rabbitmq_url, broker_namespace, target)
    message = task_message(broker_namespace, fake.put(b"again"), step="checksum", reprocess=True)
    tap = EventTap(rabbitmq_url, broker_namespace)
    try:
        with running_worker(settings) as producer:
            enqueue(producer, message)
            received = tap.wait_for(succeeded(message))
    finally:
        tap.close()

    assert message.queue_name == f"{broker_namespace}.reprocess"
    assert [(e.type, e.job_id) for e in received] == [
        ("job.started", message.message_id),
        ("job.succeeded", message.message_id),
    ]


def test_a_fresh_upload_completes_on_rabbitmq_while_a_reprocess_backlog_waits(
    rabbitmq_url: str,
    broker_namespace: str,
    storage_server: tuple[str, FakeStorage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target, fake = storage_server
    gated = GatedStep()
    monkeypatch.setitem(REGISTRY, "test.gated", Step("test.gated", 1, gated))
    monkeypatch.setitem(REGISTRY, "test.quick", Step("test.quick", 1, quick))
    settings = rabbitmq_settings(rabbitmq_url, broker_namespace, target, worker_threads=4)
    original = fake.put(b"reprocessed many times")
    backlog = [
        task_message(broker_namespace, original, step="test.gated", reprocess=True)
        for _ in range(40)
    ]
    fresh = task_message(broker_namespace, fake.put(b"a new upload"), step="test.quick")
    started_when_fresh_done: list[int] = []

    def release_once_fresh_is_done(got: Envelopes) -> bool:
        # One consumer throughout: the gate opens from here, once the fresh job is done.
        if not started_when_fresh_done and succeeded(fresh)(got):
            started_when_fresh_done.append(gated.started)
            gated.gate.set()
        return sum(e.type == "job.succeeded" for e in got) == len(backlog) + 1

    tap = EventTap(rabbitmq_url, broker_namespace)
    try:
        with running_worker(settings) as producer:
            for message in backlog:
                enqueue(producer, message)
            wait_for(lambda: gated.started == 2, what="the reprocess share of threads busy")
            enqueue(producer, fresh)
            tap.wait_for(release_once_fresh_is_done, timeout=30)
    finally:
        gated.gate.set()
        tap.close()

    assert started_when_fresh_done == [2]
    assert gated.started == len(backlog)
