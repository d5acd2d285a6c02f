"""The outbox relay: publishes committed job messages and events, then marks them sent.

Rows are published in id order. On PostgreSQL a batch is claimed with
`SELECT ... FOR UPDATE SKIP LOCKED` and held until it is marked, so replicas never send
the same row twice. On SQLite (one process) rows are read, published and marked in short
transactions, so a slow broker never holds the database's write lock. A row is marked
sent only after the broker confirmed it; a failure is recorded on the row and ends the
round, leaving that row and the ones after it pending for the next round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import dramatiq
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage_service.db import OutboxMessage, utcnow
from storage_service.dispatch import EVENT, JOB
from usp import events
from usp.message_auth import sign_message
from usp.v1 import common_pb2

logger = logging.getLogger(__name__)

BATCH_SIZE = 100


class Publisher(Protocol):
    def publish(self, envelope: common_pb2.EventEnvelope) -> None: ...


@dataclass(frozen=True)
class _Pending:
    id: int
    kind: str
    body: bytes


class OutboxRelay:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        broker: dramatiq.Broker,
        publisher: Publisher,
        *,
        message_key: bytes,
        poll_interval: float = 0.5,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._sessions = session_factory
        self._broker = broker
        self._publisher = publisher
        self._message_key = message_key
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._wake = threading.Event()
        engine = session_factory.kw["bind"]
        self._lock_rows = engine.dialect.name == "postgresql"

    def wake(self) -> None:
        """Run a round now rather than at the next poll."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """Publish until `stop` is set; set `stop` then call wake() to end promptly."""
        logger.info("outbox relay started")
        while not stop.is_set():
            self._wake.wait(self._poll_interval)
            self._wake.clear()
            if stop.is_set():
                break
            self._run_rounds()
        logger.info("outbox relay stopped")

    def _run_rounds(self) -> None:
        try:
            while self.run_once() == self._batch_size:
                pass
        except Exception:
            logger.exception("outbox relay round failed")

    def run_once(self) -> int:
        """Publish the pending rows in id order; returns how many were published."""
        if self._lock_rows:
            return self._run_locked()
        return self._run_unlocked()

    def _pending_query(self) -> sa.Select[tuple[OutboxMessage]]:
        return (
            sa.select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(self._batch_size)
        )

    def _run_locked(self) -> int:
        with self._sessions.begin() as session:
            rows = session.scalars(self._pending_query().with_for_update(skip_locked=True)).all()
            published = 0
            for row in rows:
                error = self._publish(_Pending(row.id, row.kind, row.body))
                _record(row, error)
                if error is not None:
                    break
                published += 1
            return published

    def _run_unlocked(self) -> int:
        with self._sessions() as session:
            rows = session.scalars(self._pending_query()).all()
            pending = [_Pending(row.id, row.kind, row.body) for row in rows]
        return self._publish_each(pending)

    def _publish_each(self, pending: Sequence[_Pending]) -> int:
        """Publish in order up to the first failure, then record the round in one
        transaction: one commit per round, not per row. A crash before that commit
        publishes the round again, which every consumer tolerates."""
        if not pending:
            return 0
        outcomes: dict[int, str | None] = {}
        for item in pending:
            outcomes[item.id] = error = self._publish(item)
            if error is not None:
                break
        with self._sessions.begin() as session:
            rows = session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.id.in_(list(outcomes)))
            )
            for row in rows:
                _record(row, outcomes[row.id])
        return sum(error is None for error in outcomes.values())

    def _publish(self, item: _Pending) -> str | None:
        """Send one row; returns the error text, or None when the broker confirmed it."""
        try:
            if item.kind == JOB:
                self._enqueue(item.body)
            elif item.kind == EVENT:
                self._publisher.publish(events.decode(item.body))
            else:
                raise ValueError(f"unknown outbox kind {item.kind!r}")
        except Exception as exc:
            logger.warning(
                "outbox publish failed",
                extra={"fields": {"outbox_id": item.id, "kind": item.kind, "error": repr(exc)}},
            )
            return f"{type(exc).__name__}: {exc}"
        logger.debug("outbox row published", extra={"fields": {"outbox_id": item.id}})
        return None

    def _enqueue(self, body: bytes) -> None:
        # Signed as it leaves, so what sits in the outbox holds no signature of an old key.
        message = sign_message(dramatiq.Message.decode(body), self._message_key)
        # The stub broker refuses undeclared queues; RabbitMQ's enqueue declares it anyway.
        self._broker.declare_queue(message.queue_name)
        self._broker.enqueue(message)


def _record(row: OutboxMessage, error: str | None) -> None:
    row.attempts += 1
    if error is None:
        row.sent_at = utcnow()
        row.last_error = None
    else:
        row.last_error = error[:2000]
