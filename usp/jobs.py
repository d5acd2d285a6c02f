"""The processing message as both ends see it: actor name, queue, broker.

The storage service enqueues by name (it never imports processor code); the processor
declares the actor under the same name and queue.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

PROCESS_ACTOR = "usp.process_step"


def process_queue(namespace: str) -> str:
    """Jobs of fresh uploads."""
    return f"{namespace}.process"


def reprocess_queue(namespace: str) -> str:
    """Retries and reprocessing, kept apart so a large reprocess never delays a new
    upload's jobs."""
    return f"{namespace}.reprocess"


def make_broker(broker_url: str) -> dramatiq.Broker:
    """RabbitMQ with publisher confirms for amqp:// URLs; in-memory when empty."""
    if not broker_url:
        return StubBroker()
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=broker_url, confirm_delivery=True)
