"""Publishing a job's lifecycle events, safely from several worker threads.

An attempt is reported started only once it has run for the started delay
(USP_JOB_STARTED_DELAY): most steps end sooner, and then their end, which says when
they began, is the one event they cost the broker and the webapp. Nobody could have
watched them run anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from processor_service import protocol
from processor_service.processing import JobError, Outcome, Task
from usp.events import EventPublisher

logger = logging.getLogger(__name__)

# A job id and an attempt number.
AttemptKey = tuple[str, int]


@dataclass(frozen=True)
class Attempt:
    """One attempt at a task, and its job.started event, made when it began."""

    task: Task
    number: int
    started: protocol.Envelope

    @property
    def key(self) -> AttemptKey:
        return (self.task.job_id, self.number)

    @property
    def started_at(self) -> Timestamp:
        return self.started.occurred_at


class JobReporter:
    """Publishes job.started / job.succeeded / job.failed for the worker threads.

    A kombu connection is not thread-safe, so publications are serialised. A start
    waits in arrival order, which is also the order it falls due in, for a thread of
    the reporter's own; the attempt's end withdraws it if it has not been published.
    """

    def __init__(self, publisher: EventPublisher, *, started_delay: float = 0.0) -> None:
        self._publisher = publisher
        self._started_delay = started_delay
        self._lock = threading.Condition()
        # Starts not yet published, each with the monotonic time it falls due.
        self._waiting: dict[AttemptKey, tuple[float, protocol.Envelope]] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    def started(self, task: Task, *, attempt: int) -> Attempt:
        began = Attempt(task, attempt, protocol.job_started(task, attempt=attempt))
        logger.info("job started", extra={"fields": _fields(task, attempt)})
        if self._started_delay <= 0:
            self._publish(began.started)
        else:
            self._defer(began)
        return began

    def succeeded(self, attempt: Attempt, *, outcome: Outcome) -> None:
        task = attempt.task
        envelope = protocol.job_succeeded(
            task, attempt=attempt.number, outcome=outcome, started_at=attempt.started_at
        )
        self._publish(envelope, ending=attempt.key)
        fields = {
            **_fields(task, attempt.number),
            "derivatives": len(outcome.derivatives),
            "reused": outcome.reused,
        }
        logger.info("job succeeded", extra={"fields": fields})

    def failed(self, attempt: Attempt, *, error: JobError, will_retry: bool) -> None:
        """Publish a failure; a broker problem here is logged, never raised over it."""
        task = attempt.task
        fields = {**_fields(task, attempt.number), "code": error.code, "will_retry": will_retry}
        logger.warning("job failed", extra={"fields": fields})
        envelope = protocol.job_failed(
            task,
            attempt=attempt.number,
            error=error,
            will_retry=will_retry,
            started_at=attempt.started_at,
        )
        try:
            self._publish(envelope, ending=attempt.key)
        except Exception:
            logger.exception("job.failed could not be published", extra={"fields": fields})

    def close(self) -> None:
        """Stop publishing starts; those still waiting belong to attempts that did not
        end, and their messages will be delivered again."""
        with self._lock:
            self._closed = True
            self._waiting.clear()
            self._lock.notify()
        if self._thread is not None:
            self._thread.join()

    def _publish(self, envelope: protocol.Envelope, *, ending: AttemptKey | None = None) -> None:
        with self._lock:
            if ending is not None:
                self._waiting.pop(ending, None)
            self._publisher.publish(envelope)

    def _defer(self, began: Attempt) -> None:
        """Queue the start; the thread is woken only when nothing was waiting, since a
        later start never falls due before the earlier ones."""
        with self._lock:
            if self._closed:
                return
            idle = not self._waiting
            self._waiting[began.key] = (time.monotonic() + self._started_delay, began.started)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._publish_due, name="usp-job-starts", daemon=True
                )
                self._thread.start()
            elif idle:
                self._lock.notify()

    def _publish_due(self) -> None:
        """Publish the waiting starts that have fallen due, until closed. Between two
        looks the thread sleeps at least a quarter of the delay, so that a busy
        processor wakes it a few times a second, not once per job; a start is
        published at most that much after it falls due."""
        least_sleep = self._started_delay / 4
        with self._lock:
            while not self._closed:
                if not self._waiting:
                    self._lock.wait()
                    continue
                self._publish_fallen_due(time.monotonic())
                if self._waiting:
                    first_due, _ = next(iter(self._waiting.values()))
                    self._lock.wait(max(first_due - time.monotonic(), least_sleep))

    def _publish_fallen_due(self, now: float) -> None:
        while self._waiting:
            key, (due, envelope) = next(iter(self._waiting.items()))
            if due > now:
                return
            del self._waiting[key]
            try:
                self._publisher.publish(envelope)
            except Exception:
                logger.exception(
                    "job.started could not be published",
                    extra={"fields": {"job_id": key[0], "attempt": key[1]}},
                )


def _fields(task: Task, attempt: int) -> dict[str, object]:
    return {"job_id": task.job_id, "file_id": task.file_id, "step": task.step, "attempt": attempt}
