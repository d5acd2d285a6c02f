"""The reporter: a start is published once the attempt has run for the started delay,
never when the attempt ended sooner, and always before that attempt's end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from processor_service.processing import JobError, Outcome, Task
from processor_service.reporting import Attempt, JobReporter
from processor_service.tests.harness import payload
from usp.storage_client import StoredObject
from usp.v1 import common_pb2

DONE = Outcome(metadata={}, derivatives=[])
# Long enough that an attempt ended at once is always ended before it.
LONG_DELAY = 0.3
# Short, for attempts that outlast it.
SHORT_DELAY = 0.05
WAIT_SECONDS = 5.0


class RecordingPublisher:
    """Records each envelope with the monotonic time it was published."""

    def __init__(self) -> None:
        self.published: list[tuple[common_pb2.EventEnvelope, float]] = []
        self.changed = threading.Condition()

    def publish(self, envelope: common_pb2.EventEnvelope) -> None:
        with self.changed:
            self.published.append((envelope, time.monotonic()))
            self.changed.notify_all()

    def types(self) -> list[tuple[str, str]]:
        with self.changed:
            return [(envelope.type, envelope.job_id) for envelope, _ in self.published]

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.published) >= count, WAIT_SECONDS)


def task(job_id: str) -> Task:
    return Task(job_id, f"file-of-{job_id}", "checksum", StoredObject("ab" * 32, 3, "text/plain"))


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def reporter(
    publisher: RecordingPublisher, request: pytest.FixtureRequest
) -> Iterator[JobReporter]:
    delay = getattr(request, "param", LONG_DELAY)
    reporter = JobReporter(publisher, started_delay=delay)  # type: ignore[arg-type]
    yield reporter
    reporter.close()


def settle(seconds: float = 2 * LONG_DELAY) -> None:
    """Long enough for any start left waiting to have fallen due."""
    time.sleep(seconds)


def started_at(envelope: common_pb2.EventEnvelope, attempt: Attempt) -> bool:
    return bool(payload(envelope).started_at == attempt.started_at)


def test_an_attempt_that_ends_before_the_delay_is_reported_by_its_end_alone(
    reporter: JobReporter, publisher: RecordingPublisher
) -> None:
    began = reporter.started(task("quick"), attempt=1)
    reporter.succeeded(began, outcome=DONE)
    settle()

    assert publisher.types() == [("job.succeeded", "quick")]
    [(succeeded, _)] = publisher.published
    assert started_at(succeeded, began)
    assert began.started_at.ToNanoseconds() > 0


def test_a_failed_attempt_ended_before_the_delay_is_reported_by_its_failure_alone(
    reporter: JobReporter, publisher: RecordingPublisher
) -> None:
    began = reporter.started(task("broken"), attempt=2)
    reporter.failed(began, error=JobError("not_an_image", "no", transient=False), will_retry=False)
    settle()

    assert publisher.types() == [("job.failed", "broken")]
    [(failed, _)] = publisher.published
    assert started_at(failed, began)
    assert (payload(failed).attempt, failed.sequence) == (2, 22)


@pytest.mark.parametrize("reporter", [SHORT_DELAY], indirect=True)
def test_an_attempt_still_running_after_the_delay_is_reported_started_then_ended(
    reporter: JobReporter, publisher: RecordingPublisher
) -> None:
    asked_at = time.monotonic()
    began = reporter.started(task("slow"), attempt=1)
    publisher.wait_for(1)
    reporter.succeeded(began, outcome=DONE)

    assert publisher.types() == [("job.started", "slow"), ("job.succeeded", "slow")]
    (started, published_at), (succeeded, _) = publisher.published
    assert published_at - asked_at >= SHORT_DELAY
    # The start says when the attempt began, not when it was published.
    assert started.occurred_at == began.started_at
    assert started_at(succeeded, began)


@pytest.mark.parametrize("reporter", [SHORT_DELAY], indirect=True)
def test_waiting_starts_fall_due_in_order_and_an_ended_one_is_withdrawn(
    reporter: JobReporter, publisher: RecordingPublisher
) -> None:
    first = reporter.started(task("first"), attempt=1)
    reporter.started(task("second"), attempt=1)
    reporter.started(task("third"), attempt=1)
    reporter.succeeded(first, outcome=DONE)
    publisher.wait_for(3)
    settle(4 * SHORT_DELAY)

    assert publisher.types() == [
        ("job.succeeded", "first"),
        ("job.started", "second"),
        ("job.started", "third"),
    ]


@pytest.mark.parametrize("reporter", [0.0], indirect=True)
def test_with_no_delay_the_start_is_published_before_started_returns(
    reporter: JobReporter, publisher: RecordingPublisher
) -> None:
    began = reporter.started(task("now"), attempt=1)

    assert publisher.types() == [("job.started", "now")]
    assert publisher.published[0][0].occurred_at == began.started_at


def test_closing_drops_the_waiting_starts(
    reporter: JobReporter, publisher: RecordingPublisher
) -> None:
    reporter.started(task("cut-off"), attempt=1)
    reporter.close()
    reporter.started(task("after-close"), attempt=1)
    settle()

    assert publisher.types() == []
