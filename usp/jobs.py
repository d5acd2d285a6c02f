"""The processing message as both ends see it: actor name, queue, broker.

The storage service enqueues by name (it never imports processor code); the processor
declares the actor under the same name and queue.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

PROCESS_ACTOR = "usp.process_step"


def process_queue(namespace: str) -> str:
    return f"{namespace}.process"


def make_broker(broker_url: str) -> dramatiq.Broker:
    """RabbitMQ with publisher confirms for amqp:// URLs; in-memory when empty."""
    if not broker_url:
        return StubBroker()
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=broker_url, confirm_delivery=True)
