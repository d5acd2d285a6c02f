"""The processor against the real RabbitMQ: a task in, a job.succeeded event out."""

from __future__ import annotations

import uuid

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from google.protobuf import json_format

from processor_service.settings import Settings
from processor_service.tests.conftest import TOKEN
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage
from processor_service.tests.images import png
from processor_service.worker import create_worker
from usp import jobs
from usp.v1 import common_pb2, processor_service_pb2

pytestmark = pytest.mark.rabbitmq


def task_message(namespace: str, obj: common_pb2.ObjectInfo) -> dramatiq.Message:
    """The message exactly as storage enqueues it: by actor name, id = job id."""
    job_id = str(uuid.uuid4())
    task = processor_service_pb2.ProcessTask(
        job_id=job_id, file_id="file-rmq", step="image.thumbnail", input=obj
    )
    return dramatiq.Message(
        queue_name=jobs.process_queue(namespace),
        actor_name=jobs.PROCESS_ACTOR,
        args=(json_format.MessageToDict(task, preserving_proto_field_name=True),),
        kwargs={},
        options={},
        message_id=job_id,
    )


def test_task_enqueued_on_rabbitmq_is_processed_and_job_succeeded_is_published(
    rabbitmq_url: str, broker_namespace: str, storage_server: tuple[str, FakeStorage]
) -> None:
    target, fake = storage_server
    settings = Settings(
        storage_target=target,
        service_token=TOKEN,
        broker_url=rabbitmq_url,
        namespace=broker_namespace,
        worker_threads=1,
    )
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
