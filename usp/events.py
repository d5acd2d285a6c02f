"""Lifecycle events: the envelope, its encoding, and publishing with kombu.

Events go to one durable topic exchange, `<namespace>.events`, as persistent messages
whose routing key is the event type. An empty broker URL means kombu's in-memory
transport, which connects publishers and consumers inside one process.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import kombu
from google.protobuf import message as protobuf_message

from usp.message_auth import EVENT_SIGNATURE_HEADER, sign_event
from usp.v1 import common_pb2

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-protobuf"
FILE_STORED = "file.stored"
UPLOAD_ENDED = "upload.ended"
JOB_STARTED = "job.started"
JOB_SUCCEEDED = "job.succeeded"
JOB_FAILED = "job.failed"

# Ordering of one job's events: attempt n's start, then its end; a later attempt wins.
_PHASE_RANK = {FILE_STORED: 0, UPLOAD_ENDED: 0, JOB_STARTED: 1, JOB_SUCCEEDED: 2, JOB_FAILED: 2}


def event_sequence(event_type: str, attempt: int) -> int:
    return attempt * 10 + _PHASE_RANK[event_type]


def kombu_url(broker_url: str) -> str:
    return broker_url or "memory://localhost/"


def exchange(namespace: str) -> kombu.Exchange:
    return kombu.Exchange(f"{namespace}.events", type="topic", durable=True)


def make_envelope(
    event_type: str,
    *,
    file_id: str,
    payload: protobuf_message.Message,
    job_id: str = "",
    attempt: int = 0,
) -> common_pb2.EventEnvelope:
    envelope = common_pb2.EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=event_type,
        file_id=file_id,
        job_id=job_id,
        sequence=event_sequence(event_type, attempt),
    )
    envelope.occurred_at.FromDatetime(datetime.now(UTC))
    envelope.payload.Pack(payload)
    return envelope


def encode(envelope: common_pb2.EventEnvelope) -> bytes:
    return envelope.SerializeToString()


def decode(body: bytes) -> common_pb2.EventEnvelope:
    envelope = common_pb2.EventEnvelope()
    envelope.ParseFromString(body)
    return envelope


class EventPublisher:
    """Publishes envelopes durably (persistent messages, publisher confirms on AMQP),
    each signed with `message_key` (see usp.message_auth) for its consumers to verify."""

    def __init__(self, broker_url: str, namespace: str, *, message_key: bytes) -> None:
        self._key = message_key
        self._connection = kombu.Connection(
            kombu_url(broker_url), transport_options={"confirm_publish": True}
        )
        self._exchange = exchange(namespace)
        self._producer: kombu.Producer | None = None

    def publish(self, envelope: common_pb2.EventEnvelope) -> None:
        producer = self._producer or self._connect()
        publish = self._connection.ensure(producer, producer.publish, max_retries=3)
        body = encode(envelope)
        publish(
            body,
            routing_key=envelope.type,
            content_type=CONTENT_TYPE,
            content_encoding="binary",
            delivery_mode=2,
            headers={EVENT_SIGNATURE_HEADER: sign_event(body, self._key)},
        )
        logger.debug(
            "event published",
            extra={"fields": {"type": envelope.type, "file_id": envelope.file_id}},
        )

    def _connect(self) -> kombu.Producer:
        # With auto_declare kombu makes sure of the producer's exchange before each
        # publish (declared once per connection; bound to the producer's channel, and
        # rebound when kombu revives it). An unbound exchange passed as `declare=` was
        # deep-copied on every publish.
        self._producer = kombu.Producer(
            self._connection.channel(), exchange=self._exchange, auto_declare=True
        )
        return self._producer

    def close(self) -> None:
        self._connection.release()
