"""The worker consumes the fresh queue and the reprocess queue, and a reprocess backlog
never holds up a fresh upload's jobs."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import BinaryIO

import pytest

from processor_service.settings import Settings
from processor_service.steps import REGISTRY, Step, StepInput, StepOptions, StepResult
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage
from processor_service.tests.harness import Harness, outcomes, payload
from tests.waiting import wait_for

BACKLOG = 200


class GatedStep:
    """A slow step: each run waits until the gate opens (or a deadline passes)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = 0
        self._lock = threading.Lock()

    def __call__(self, stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
        with self._lock:
            self.started += 1
        if not self.gate.wait(timeout=30):
            raise AssertionError("the gate never opened")
        return StepResult()


def quick(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    return StepResult(metadata={"quick": True})


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> Iterator[GatedStep]:
    step = GatedStep()
    monkeypatch.setitem(REGISTRY, "test.gated", Step("test.gated", 1, step))
    monkeypatch.setitem(REGISTRY, "test.quick", Step("test.quick", 1, quick))
    yield step
    step.gate.set()


def test_task_enqueued_by_name_on_the_reprocess_queue_runs(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    job_id = harness.submit("checksum", fake_storage.put(b"again"), force=True, reprocess=True)
    harness.settle()

    assert [(e.type, e.job_id) for e in event_tap.drain()] == [
        ("job.started", job_id),
        ("job.succeeded", job_id),
    ]


def test_a_reprocess_job_that_fails_transiently_is_retried_and_succeeds(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    fake_storage.failing_reads = 1

    job_id = harness.submit("checksum", fake_storage.put(b"flaky"), force=True, reprocess=True)
    harness.settle()

    assert outcomes(event_tap.drain())[job_id] == [
        ("job.failed", 1, "storage_unavailable", True),
        ("job.succeeded", 2, "", False),
    ]


def test_a_fresh_upload_completes_while_a_reprocess_backlog_waits(
    settings: Settings, fake_storage: FakeStorage, event_tap: EventTap, gated: GatedStep
) -> None:
    harness = Harness(dataclasses.replace(settings, worker_threads=4))
    try:
        original = fake_storage.put(b"reprocessed many times")
        for _ in range(BACKLOG):
            harness.submit("test.gated", original, force=True, reprocess=True)
        wait_for(lambda: gated.started == 2, what="the reprocess share of threads busy")

        fresh = harness.submit("test.quick", fake_storage.put(b"a new upload"))
        done = event_tap.wait_for(
            lambda got: any(e.type == "job.succeeded" and e.job_id == fresh for e in got),
            timeout=10,
        )

        # Done while every reprocess job was still held at the gate or not yet taken.
        assert gated.started == 2
        assert harness.broker.queues[harness.reprocess_queue].qsize() >= BACKLOG - 3
        [succeeded] = [e for e in done if e.type == "job.succeeded"]
        assert dict(payload(succeeded).metadata) == {"quick": True}
        gated.gate.set()
        harness.settle()
    finally:
        gated.gate.set()
        harness.stop()

    assert gated.started == BACKLOG
