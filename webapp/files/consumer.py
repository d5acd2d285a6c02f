"""The event consumer: applies lifecycle events from the broker to the catalog.

Each message is applied in one database transaction and acknowledged only after it
commits, so a crash redelivers it (and applying it twice changes nothing). A message
without a valid signature (usp.message_auth) is dropped unread: only the services
holding the service token speak for a job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import kombu
from django.db import close_old_connections, connection, transaction
from google.protobuf.message import DecodeError
from kombu.mixins import ConsumerMixin

from usp import events
from usp.message_auth import event_is_authentic
from usp.v1 import common_pb2
from webapp.files.events import UnreadableEvent, event_apply
from webapp.files.housekeeping import start_upload_expiry

logger = logging.getLogger(__name__)

PREFETCH_COUNT = 16
# How often the consume loop looks at the stop event: the longest a stop waits.
STOP_CHECK_INTERVAL = 0.25
# The in-memory transport polls; this bounds how late an event shows in the embedded run.
MEMORY_POLLING_INTERVAL = 0.1
# How long a stop waits for a round of stale-upload expiry already under way.
EXPIRY_JOIN_TIMEOUT = 5.0


class _Stopping(Exception):
    """Raised out of connection retries once a stop was asked for."""


def event_queue(namespace: str) -> kombu.Queue:
    """The webapp's durable queue, bound to every event type."""
    return kombu.Queue(
        f"{namespace}.webapp.events",
        exchange=events.exchange(namespace),
        routing_key="#",
        durable=True,
    )


class EventConsumer(ConsumerMixin):
    """Consumes `<namespace>.webapp.events` until `stop` is set."""

    def __init__(
        self,
        connection: kombu.Connection,
        namespace: str,
        *,
        message_key: bytes,
        stop: threading.Event | None = None,
    ) -> None:
        self.connection = connection
        self.queue = event_queue(namespace)
        self._key = message_key
        self._stop = stop or threading.Event()

    @property  # type: ignore[override]
    def should_stop(self) -> bool:
        return self._stop.is_set()

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        if value:
            self._stop.set()

    def get_consumers(self, consumer_class: Any, channel: Any) -> list[kombu.Consumer]:
        consumer = consumer_class(
            queues=[self.queue],
            callbacks=[self.on_message],
            accept=[events.CONTENT_TYPE],
            prefetch_count=PREFETCH_COUNT,
        )
        return [consumer]

    @contextmanager
    def establish_connection(self) -> Iterator[kombu.Connection]:
        with self.create_connection() as conn:
            conn.ensure_connection(
                self.on_connection_error, self.connect_max_retries, callback=self._raise_if_stopping
            )
            yield conn

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self._raise_if_stopping()
        logger.warning(
            "broker unreachable; retrying",
            extra={"fields": {"error": exc, "retry_in": interval}},
        )

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **_: Any) -> None:
        logger.info("consuming events", extra={"fields": {"queue": self.queue.name}})

    def on_decode_error(self, message: kombu.Message, exc: Exception) -> None:
        self._discard(message, f"undecodable body: {exc.__class__.__name__}")

    def on_message(self, _body: Any, message: kombu.Message) -> None:
        if not event_is_authentic(message.body, message.headers, self._key):
            self._discard(message, "missing or invalid signature")
            return
        try:
            envelope = events.decode(message.body)
        except DecodeError:
            self._discard(message, "not an event envelope")
            return
        self._apply(envelope, message)

    def _apply(self, envelope: common_pb2.EventEnvelope, message: kombu.Message) -> None:
        close_old_connections()
        try:
            with transaction.atomic():
                event_apply(envelope=envelope)
        except UnreadableEvent as exc:
            self._discard(message, str(exc))
            return
        except Exception:
            self._retry_once(envelope, message)
            return
        message.ack()

    def _retry_once(self, envelope: common_pb2.EventEnvelope, message: kombu.Message) -> None:
        """A first failure goes back to the queue; a second one is dropped, loudly, so a
        poison message cannot stop every event behind it."""
        redelivered = bool(message.delivery_info.get("redelivered"))
        logger.exception(
            "event not applied",
            extra={
                "fields": {
                    "type": envelope.type,
                    "event_id": envelope.event_id,
                    "redelivered": redelivered,
                }
            },
        )
        if redelivered:
            message.reject(requeue=False)
        else:
            message.requeue()

    def _discard(self, message: kombu.Message, reason: str) -> None:
        logger.error(
            "event message rejected",
            extra={"fields": {"reason": reason, "queue": self.queue.name}},
        )
        message.reject(requeue=False)

    def _raise_if_stopping(self) -> None:
        if self.should_stop:
            raise _Stopping


def run_consumer(
    *, broker_url: str, namespace: str, message_key: bytes, stop: threading.Event
) -> None:
    """Consume events signed with `message_key` until `stop` is set; blocks, so run it
    in a thread or a process. Stale uploads are ended beside it (webapp.files.housekeeping).

    An empty `broker_url` means kombu's in-memory transport (the embedded default).
    """
    url = events.kombu_url(broker_url)
    options = {"polling_interval": MEMORY_POLLING_INTERVAL} if url.startswith("memory://") else {}
    # Ends with the consumer, however the consumer ends.
    halt = threading.Event()
    expiry = start_upload_expiry(stop=halt)
    try:
        with kombu.Connection(url, transport_options=options) as broker:
            consumer = EventConsumer(broker, namespace, message_key=message_key, stop=stop)
            consumer.run(safety_interval=STOP_CHECK_INTERVAL)
    except _Stopping:
        pass
    finally:
        halt.set()
        expiry.join(timeout=EXPIRY_JOIN_TIMEOUT)
        connection.close()
    logger.info("event consumer stopped", extra={"fields": {"namespace": namespace}})
