"""Decoders that crash or run out of memory, through the actor: bounded attempts, then failed."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from typing import BinaryIO

import pytest

from processor_service.settings import Settings
from processor_service.steps import REGISTRY, Step, StepInput, StepOptions, StepResult
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage
from processor_service.tests.harness import Harness, outcomes, payload
from processor_service.tests.images import png


def segfaults(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("still alive after SIGSEGV")


def aborts(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    os.abort()


def allocates_two_gigabytes(
    stream: BinaryIO, source: StepInput, options: StepOptions
) -> StepResult:
    block = bytearray(2 * 1024**3)
    return StepResult(metadata={"allocated": len(block)})


@pytest.fixture(autouse=True)
def failing_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, function in [
        ("test.segfault", segfaults),
        ("test.abort", aborts),
        ("test.memory", allocates_two_gigabytes),
    ]:
        monkeypatch.setitem(REGISTRY, name, Step(name, 1, function, isolated=True))


@pytest.mark.parametrize(
    ("step", "code", "message"),
    [
        ("test.segfault", "decoder_crashed", "the decoder crashed with signal SIGSEGV"),
        ("test.abort", "decoder_crashed", "the decoder crashed with signal SIGABRT"),
        (
            "test.memory",
            "decoder_out_of_memory",
            "the decoder needed more than its 1024 MiB of memory",
        ),
    ],
)
def test_a_decoder_that_dies_fails_the_job_after_two_attempts(
    step: str,
    code: str,
    message: str,
    harness: Harness,
    fake_storage: FakeStorage,
    event_tap: EventTap,
) -> None:
    job_id = harness.process(step, fake_storage.put(b"hostile bytes"))

    received = event_tap.drain()
    assert outcomes(received) == {
        job_id: [("job.failed", 1, code, True), ("job.failed", 2, code, False)]
    }
    last = payload(received[-1])
    assert (last.error.transient, last.error.message) == (False, f"{message} (attempt 2)")
    assert [message.message_id for message in harness.broker.dead_letters] == [job_id]


def test_with_one_crash_allowed_the_first_crash_fails_the_job(
    settings: Settings, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    with Harness(dataclasses.replace(settings, decoder_max_crashes=1)) as harness:
        job_id = harness.process("test.segfault", fake_storage.put(b"hostile bytes"))

    assert outcomes(event_tap.drain()) == {job_id: [("job.failed", 1, "decoder_crashed", False)]}


def test_a_crashing_decoder_leaves_the_other_jobs_alone(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    images = [fake_storage.put(png(800 + n, 600)) for n in range(3)]  # none remembered
    crashing = [harness.submit("test.segfault", fake_storage.put(b"bad")) for _ in range(3)]
    good = [harness.submit("image.thumbnail", image) for image in images]
    harness.settle()

    results = outcomes(event_tap.drain())
    assert all(results[job][-1][:3] == ("job.failed", 2, "decoder_crashed") for job in crashing)
    assert all(results[job] == [("job.succeeded", 1, "", False)] for job in good)
    assert len(fake_storage.derivatives) == 6


def sleeps(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    time.sleep(60)
    return StepResult()


def test_a_sandboxed_step_past_the_time_limit_is_stopped_and_its_child_killed(
    settings: Settings,
    fake_storage: FakeStorage,
    event_tap: EventTap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(REGISTRY, "test.sleep", Step("test.sleep", 1, sleeps, isolated=True))
    with Harness(dataclasses.replace(settings, step_time_limit_ms=500, max_retries=0)) as harness:
        started = time.monotonic()
        job_id = harness.process("test.sleep", fake_storage.put(b"bytes"))

    assert time.monotonic() - started < 10
    [(event, attempt, code, will_retry)] = outcomes(event_tap.drain())[job_id]
    assert (event, attempt, code, will_retry) == ("job.failed", 1, "time_limit_exceeded", False)
    assert multiprocessing.active_children() == []


def reports_its_pid(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    return StepResult(metadata={"pid": os.getpid()})


def test_a_worker_thread_s_decoder_runs_its_next_jobs_until_the_worker_stops(
    settings: Settings,
    fake_storage: FakeStorage,
    event_tap: EventTap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(REGISTRY, "test.pid", Step("test.pid", 1, reports_its_pid, isolated=True))
    reusing = dataclasses.replace(settings, worker_threads=1, decoder_jobs_per_process=3)
    with Harness(reusing) as harness:
        for n in range(4):
            harness.process("test.pid", fake_storage.put(b"input %d" % n))

    succeeded = [payload(e) for e in event_tap.drain() if e.type == "job.succeeded"]
    pids = [int(message.metadata["pid"]) for message in succeeded]
    assert len(pids) == 4
    assert pids[0] == pids[1] == pids[2] != pids[3]
    assert os.getpid() not in pids
    assert multiprocessing.active_children() == []
