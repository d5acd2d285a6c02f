"""The event consumer: applies lifecycle events from the broker to the catalog.

The events already delivered when the consumer looks (at most the prefetch count) are
applied in arrival order in one database transaction and acknowledged only after it
commits, so a crash redelivers them (and applying one twice changes nothing); a lone
event is applied at once, never held back for others, and a backlog costs one commit
per batch instead of one per event. When a batch fails its events are applied one by
one, so one poison event neither blocks nor loses the others. A message without a valid
signature (usp.message_auth) is dropped unread: only the services holding the service
token speak for a job.

The consumer keeps its database connection from one event to the next, never asking
Django to close old connections per event, and drops it after a failure, so a database
restart or a broken connection is recovered from on the next message.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import kombu
from django.db import connection, transaction
from google.protobuf.message import DecodeError
from kombu.mixins import ConsumerMixin

from usp import events
from usp.message_auth import event_is_authentic
from usp.v1 import common_pb2
from webapp.files.events import UnreadableEvent, event_apply
from webapp.files.housekeeping import start_upload_expiry

logger = logging.getLogger(__name__)

PREFETCH_COUNT = 16
# The most events applied in one transaction; the broker delivers no more than the
# prefetch count before some are acknowledged anyway.
BATCH_MAX = PREFETCH_COUNT
# How often the consume loop looks at the stop event: the longest a stop waits.
STOP_CHECK_INTERVAL = 0.25
# The in-memory transport polls; this bounds how late an event shows in the embedded run.
MEMORY_POLLING_INTERVAL = 0.1
# How long a stop waits for a round of stale-upload expiry already under way.
EXPIRY_JOIN_TIMEOUT = 5.0


class _Stopping(Exception):
    """Raised out of connection retries once a stop was asked for."""


Delivered = tuple[common_pb2.EventEnvelope, kombu.Message]


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
        # Authentic events received and not yet applied, in arrival order.
        self._batch: list[Delivered] = []

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

    def consume(
        self,
        limit: int | None = None,
        timeout: float | None = None,
        safety_interval: float = 1,
        **kwargs: Any,
    ) -> Generator[None, None, None]:
        """ConsumerMixin.consume, except that events are applied in batches: while some
        wait, the next drain does not block, and the first one that finds nothing more
        (or a full batch) applies them. A stop applies the waiting ones first; leaving
        any other way leaves them unacknowledged, so the broker delivers them again."""
        elapsed = 0.0
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            try:
                for _ in range(limit) if limit else itertools.count():
                    if self.should_stop:
                        break
                    self.on_iteration()
                    try:
                        conn.drain_events(timeout=0 if self._batch else safety_interval)
                    except TimeoutError:
                        conn.heartbeat_check()
                        if self._batch:
                            self._flush()
                            continue
                        elapsed += safety_interval
                        if timeout and elapsed >= timeout:
                            raise
                    except OSError:
                        if not self.should_stop:
                            raise
                    else:
                        if len(self._batch) >= BATCH_MAX:
                            self._flush()
                        yield
                        elapsed = 0
                self._flush()
            finally:
                self._batch.clear()

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
        self._batch.append((envelope, message))

    def _flush(self) -> None:
        """Apply the waiting events: together when there are several and that works,
        otherwise one by one."""
        batch, self._batch = self._batch, []
        if len(batch) > 1 and self._apply_together(batch):
            return
        for envelope, message in batch:
            self._apply(envelope, message)

    def _apply_together(self, batch: Sequence[Delivered]) -> bool:
        """Apply every event in one transaction and acknowledge them after it commits;
        False, with nothing applied or acknowledged, when one of them failed."""
        try:
            with transaction.atomic():
                for envelope, _message in batch:
                    event_apply(envelope=envelope)
        except Exception as exc:
            logger.warning(
                "event batch not applied; applying its events one by one",
                exc_info=True,
                extra={"fields": {"events": len(batch)}},
            )
            _connection_drop_after(exc)
            return False
        for _envelope, message in batch:
            message.ack()
        return True

    def _apply(self, envelope: common_pb2.EventEnvelope, message: kombu.Message) -> None:
        try:
            with transaction.atomic():
                event_apply(envelope=envelope)
        except UnreadableEvent as exc:
            self._discard(message, str(exc))
            return
        except Exception as exc:
            _connection_drop_after(exc)
            self._retry_once(envelope, message)
            return
        message.ack()

    def _retry_once(self, envelope: common_pb2.EventEnvelope, message: kombu.Message) -> None:
        """A first failure goes back to the queue; a second one is dropped, loudly, so a
        poison message cannot stop every event behind it."""
        redelivered = _redelivered(message)
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


def _connection_drop_after(exc: Exception) -> None:
    """After a failure the kept database connection may be broken (the database
    restarted, the socket dropped): close it, and the next event opens a fresh one. An
    unreadable event says nothing about the connection."""
    if not isinstance(exc, UnreadableEvent):
        connection.close()


def _redelivered(message: kombu.Message) -> bool:
    """Whether the broker delivered `message` before. AMQP says so in the delivery info;
    kombu's in-memory transport (the embedded run) only marks the stored payload."""
    raw = getattr(message, "_raw", None)
    from_memory = isinstance(raw, dict) and bool(raw.get("redelivered"))
    return bool(message.delivery_info.get("redelivered")) or from_memory


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
