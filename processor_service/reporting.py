"""Publishing a job's lifecycle events, safely from several worker threads."""

from __future__ import annotations

import logging
import threading

from processor_service import protocol
from processor_service.processing import JobError, Outcome, Task
from usp.events import EventPublisher

logger = logging.getLogger(__name__)


class JobReporter:
    """Publishes job.started / job.succeeded / job.failed for the worker threads.

    A kombu connection is not thread-safe, so publications are serialised.
    """

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher
        self._lock = threading.Lock()

    def started(self, task: Task, *, attempt: int) -> None:
        self._publish(protocol.job_started(task, attempt=attempt))
        logger.info("job started", extra={"fields": _fields(task, attempt)})

    def succeeded(self, task: Task, *, attempt: int, outcome: Outcome) -> None:
        self._publish(protocol.job_succeeded(task, attempt=attempt, outcome=outcome))
        fields = {
            **_fields(task, attempt),
            "derivatives": len(outcome.derivatives),
            "reused": outcome.reused,
        }
        logger.info("job succeeded", extra={"fields": fields})

    def failed(self, task: Task, *, attempt: int, error: JobError, will_retry: bool) -> None:
        """Publish a failure; a broker problem here is logged, never raised over it."""
        fields = {**_fields(task, attempt), "code": error.code, "will_retry": will_retry}
        logger.warning("job failed", extra={"fields": fields})
        envelope = protocol.job_failed(task, attempt=attempt, error=error, will_retry=will_retry)
        try:
            self._publish(envelope)
        except Exception:
            logger.exception("job.failed could not be published", extra={"fields": fields})

    def _publish(self, envelope: protocol.Envelope) -> None:
        with self._lock:
            self._publisher.publish(envelope)


def _fields(task: Task, attempt: int) -> dict[str, object]:
    return {"job_id": task.job_id, "file_id": task.file_id, "step": task.step, "attempt": attempt}
