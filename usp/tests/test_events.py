"""The event publisher on RabbitMQ: its exchange and what reaches a bound queue."""

from __future__ import annotations

import pika
import pytest

from usp import events
from usp.events import EventPublisher
from usp.message_auth import event_is_authentic, message_key
from usp.v1 import processor_service_pb2

pytestmark = pytest.mark.rabbitmq

KEY = message_key("events-test-token")


def started(job_id: str) -> events.common_pb2.EventEnvelope:
    payload = processor_service_pb2.JobStarted(attempt=1, step="checksum")
    return events.make_envelope(
        events.JOB_STARTED, file_id="file-1", job_id=job_id, payload=payload, attempt=1
    )


def exchange_exists(url: str, name: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().exchange_declare(exchange=name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def test_the_first_publish_declares_the_durable_events_exchange(
    rabbitmq_url: str, broker_namespace: str
) -> None:
    publisher = EventPublisher(rabbitmq_url, broker_namespace, message_key=KEY)
    try:
        assert not exchange_exists(rabbitmq_url, f"{broker_namespace}.events")
        publisher.publish(started("job-1"))
        assert exchange_exists(rabbitmq_url, f"{broker_namespace}.events")
    finally:
        publisher.close()


def test_every_event_reaches_a_bound_queue_signed_and_persistent(
    rabbitmq_url: str, broker_namespace: str
) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    exchange = f"{broker_namespace}.events"
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.queue_bind(queue=queue, exchange=exchange, routing_key="job.*")
    publisher = EventPublisher(rabbitmq_url, broker_namespace, message_key=KEY)
    try:
        for job_id in ("job-1", "job-2", "job-3"):
            publisher.publish(started(job_id))
        received = [channel.basic_get(queue, auto_ack=True) for _ in range(3)]
    finally:
        publisher.close()
        connection.close()

    assert [events.decode(body).job_id for _, _, body in received] == ["job-1", "job-2", "job-3"]
    for method, properties, body in received:
        assert method.routing_key == events.JOB_STARTED
        assert properties.delivery_mode == 2
        assert event_is_authentic(body, properties.headers, KEY)
