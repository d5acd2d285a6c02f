"""Everything a broker namespace holds on RabbitMQ, and removing it (test and benchmark
runs use a namespace of their own and clean it up afterwards)."""

from __future__ import annotations

from usp.jobs import process_queue, reprocess_queue

# Dramatiq keeps a delay queue (.DQ) and a dead-letter queue (.XQ) beside each queue.
_DRAMATIQ_SUFFIXES = ("", ".DQ", ".XQ")


def queue_names(namespace: str) -> list[str]:
    queues = [process_queue(namespace), reprocess_queue(namespace), f"{namespace}.webapp.events"]
    return [queue + suffix for queue in queues for suffix in _DRAMATIQ_SUFFIXES]


def delete_namespace(url: str, namespace: str) -> None:
    """Delete the namespace's queues and its event exchange from the broker at `url`."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in queue_names(namespace):
            channel.queue_delete(queue=queue)
        channel.exchange_delete(exchange=f"{namespace}.events")
    finally:
        connection.close()
