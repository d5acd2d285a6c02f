"""The sandbox: steps in a resource-limited child, their results and their deaths."""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from processor_service import sandbox
from processor_service.sandbox import (
    DecoderFailure,
    Sandbox,
    SandboxLimits,
    StepCrashed,
    run_isolated,
)
from processor_service.steps import (
    PermanentError,
    StepFunction,
    StepInput,
    StepOptions,
    StepResult,
    thumbnail,
)
from processor_service.tests.images import png, step_input

REPOSITORY = Path(__file__).resolve().parents[2]
LIMITS = SandboxLimits(memory_bytes=512 * 1024 * 1024, cpu_seconds=10, wall_seconds=20)
REUSED = SandboxLimits(
    memory_bytes=512 * 1024 * 1024, cpu_seconds=10, wall_seconds=20, jobs_per_process=3
)
# What a step keeps between jobs of a reused child (each child has its own copy).
_kept: list[bytearray] = []


def aborts(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    os.abort()


def segfaults(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("still alive after SIGSEGV")


def is_killed(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("still alive after SIGKILL")


def allocates_a_gigabyte(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    block = bytearray(1024**3)
    return StepResult(metadata={"allocated": len(block)})


def spins(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    while True:
        pass


def sleeps(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    time.sleep(60)
    return StepResult()


def starts_a_program_and_hangs(
    stream: BinaryIO, source: StepInput, options: StepOptions
) -> StepResult:
    program = subprocess.Popen(["sleep", "60"])
    Path(f"{stream.name}.pid").write_text(str(program.pid))
    program.wait()
    return StepResult()


def raises_unexpectedly(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    raise KeyError("surprise")


def returns_unserialisable_metadata(
    stream: BinaryIO, source: StepInput, options: StepOptions
) -> StepResult:
    return StepResult(metadata={"raw": b"bytes are not JSON"})


def reports_its_limits(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    return StepResult(
        metadata={
            "pid": os.getpid(),
            "memory": list(resource.getrlimit(resource.RLIMIT_AS)),
            "cpu": list(resource.getrlimit(resource.RLIMIT_CPU)),
            "core": list(resource.getrlimit(resource.RLIMIT_CORE)),
            "input": stream.read().decode(),
        }
    )


def naps(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    return nap(0.5)


def naps_long(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    return nap(2.0)


def nap(seconds: float) -> StepResult:
    """Sleeps `seconds`; says when it began and ended (the monotonic clock is the
    system's, the same in every process)."""
    began = time.monotonic()
    time.sleep(seconds)
    return StepResult(metadata={"began": began, "ended": time.monotonic()})


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "input"
    path.write_bytes(b"input bytes")
    return path


def isolated(
    function: StepFunction, path: Path, limits: SandboxLimits = LIMITS, **options: Any
) -> StepResult:
    data = path.read_bytes()
    return run_isolated(
        function, str(path), step_input(data, "x/y"), StepOptions(**options), limits
    )


def failure(function: StepFunction, path: Path, limits: SandboxLimits = LIMITS) -> DecoderFailure:
    with pytest.raises(DecoderFailure) as caught:
        isolated(function, path, limits)
    return caught.value


@pytest.fixture(autouse=True)
def no_child_is_left_behind() -> Iterator[None]:
    yield
    sandbox.end_idle_decoders()
    assert multiprocessing.active_children() == []


def reports_its_pid(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    return StepResult(metadata={"pid": os.getpid()})


def keeps_300_mib(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    _kept.append(bytearray(300 * 1024 * 1024))
    return StepResult(metadata={"pid": os.getpid()})


def pid_after(function: StepFunction, path: Path, limits: SandboxLimits = REUSED) -> int:
    """The pid of the child that runs the next job, after `function` ran in the thread's
    decoder, whatever it raised."""
    with contextlib.suppress(DecoderFailure, StepCrashed, PermanentError):
        isolated(function, path, limits)
    return int(isolated(reports_its_pid, path, limits).metadata["pid"])


def test_the_child_runs_under_the_limits_and_reads_the_input_by_path(input_file: Path) -> None:
    metadata = isolated(reports_its_limits, input_file).metadata

    assert metadata["pid"] != os.getpid()
    assert metadata["memory"] == [512 * 1024 * 1024] * 2
    # Ten seconds from the start of the job, counted in whole seconds of the child's life.
    assert metadata["cpu"] in ([10, 15], [11, 15])
    assert metadata["core"] == [0, 0]
    assert metadata["input"] == "input bytes"


def test_thumbnails_made_in_the_child_equal_those_made_in_process(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(png(1200, 800))

    result = isolated(thumbnail.run, path)

    expected = thumbnail.run(io.BytesIO(path.read_bytes()), step_input(b"", "x"), StepOptions())
    assert result == expected


def test_a_permanent_error_in_the_child_reaches_the_parent_as_is(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_bytes(b"no pixels here")

    with pytest.raises(PermanentError) as caught:
        isolated(thumbnail.run, path)

    assert (caught.value.code, caught.value.message) == (
        "not_an_image",
        "the file is not an image Pillow can read",
    )


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (aborts, "the decoder crashed with signal SIGABRT"),
        (segfaults, "the decoder crashed with signal SIGSEGV"),
    ],
)
def test_a_child_that_crashes_is_a_decoder_crash(
    function: StepFunction, message: str, input_file: Path
) -> None:
    error = failure(function, input_file)

    assert (error.code, error.message) == ("decoder_crashed", message)


def test_allocating_past_the_memory_limit_is_out_of_memory(input_file: Path) -> None:
    error = failure(allocates_a_gigabyte, input_file)

    assert (error.code, error.message) == (
        "decoder_out_of_memory",
        "the decoder needed more than its 512 MiB of memory",
    )


def test_a_child_killed_outright_is_taken_for_out_of_memory(input_file: Path) -> None:
    error = failure(is_killed, input_file)

    assert error.code == "decoder_out_of_memory"
    assert "SIGKILL" in error.message


def test_a_child_using_up_its_cpu_time_is_stopped(input_file: Path) -> None:
    limits = SandboxLimits(memory_bytes=LIMITS.memory_bytes, cpu_seconds=1, wall_seconds=20)
    started = time.monotonic()

    error = failure(spins, input_file, limits)

    assert (error.code, error.message) == (
        "time_limit_exceeded",
        "the decoder used up its CPU time",
    )
    assert time.monotonic() - started < 5


def test_a_child_past_its_wall_clock_time_is_killed(input_file: Path) -> None:
    limits = SandboxLimits(memory_bytes=LIMITS.memory_bytes, cpu_seconds=10, wall_seconds=0.5)
    started = time.monotonic()

    error = failure(sleeps, input_file, limits)

    assert (error.code, error.message) == (
        "time_limit_exceeded",
        "the decoder ran longer than 0.5s",
    )
    assert time.monotonic() - started < 5


def test_programs_a_child_started_are_killed_with_it(input_file: Path) -> None:
    limits = SandboxLimits(memory_bytes=LIMITS.memory_bytes, cpu_seconds=10, wall_seconds=1)

    assert failure(starts_a_program_and_hangs, input_file, limits).code == "time_limit_exceeded"

    pid = int(Path(f"{input_file}.pid").read_text())
    deadline = time.monotonic() + 5
    while is_running(pid):
        assert time.monotonic() < deadline, f"the program {pid} outlived the sandbox"
        time.sleep(0.02)


def is_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_an_unexpected_exception_in_the_child_is_a_step_crash(input_file: Path) -> None:
    with pytest.raises(StepCrashed, match="KeyError: 'surprise'"):
        isolated(raises_unexpectedly, input_file)


def test_metadata_json_cannot_carry_is_a_step_crash(input_file: Path) -> None:
    with pytest.raises(StepCrashed, match="TypeError: Object of type bytes"):
        isolated(returns_unserialisable_metadata, input_file)


def test_sandbox_overhead_per_call_is_a_few_milliseconds() -> None:
    # A fresh interpreter without a main script, as `python -m processor_service` runs.
    code = "from processor_service.sandbox import measure_overhead; print(measure_overhead())"
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, check=True, timeout=60
    ).stdout

    median_ms = float(output) * 1000
    print(f"sandbox overhead per call: median {median_ms:.1f} ms")
    assert median_ms < 50


def test_huge_pages_are_asked_for_beside_other_tunables_and_never_twice() -> None:
    environ = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}
    sandbox.prefer_huge_pages(environ)
    sandbox.prefer_huge_pages(environ)
    chosen = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}
    sandbox.prefer_huge_pages(chosen)
    empty: dict[str, str] = {}
    sandbox.prefer_huge_pages(empty)

    assert environ == {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"}
    assert chosen == {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}
    assert empty == {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


def reports_its_tunables(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    return StepResult(metadata={"tunables": os.environ.get("GLIBC_TUNABLES", "")})


def test_decoders_of_a_process_that_prefers_huge_pages_get_them_within_their_limits() -> None:
    # A fresh interpreter, as `python -m processor_service` sets its environment first.
    code = (
        "import os, json\n"
        "from processor_service import sandbox\n"
        "sandbox.prefer_huge_pages(os.environ)\n"
        "from processor_service.tests import test_sandbox as t\n"
        "from pathlib import Path\n"
        "path = Path(os.environ['INPUT'])\n"
        "found = t.isolated(t.reports_its_tunables, path).metadata['tunables']\n"
        "code = t.failure(t.allocates_a_gigabyte, path).code\n"
        "print(json.dumps([found, code]))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "GLIBC_TUNABLES"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPOSITORY,
        env={**env, "INPUT": str(REPOSITORY / "pyproject.toml")},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert json.loads(result.stdout) == ["glibc.malloc.hugetlb=1", "decoder_out_of_memory"]


def most_at_once(concurrency: int, jobs: int, path: Path) -> int:
    """How many of `jobs` naps, sent at once from as many threads to a sandbox taking
    `concurrency` at a time, ran at the same moment at most."""
    turns = Sandbox(LIMITS, turns=lambda: concurrency)
    source = step_input(path.read_bytes(), "x/y")
    with ThreadPoolExecutor(jobs) as pool:
        calls = [
            pool.submit(turns.run, naps, str(path), source, StepOptions()) for _ in range(jobs)
        ]
        spans = [call.result().metadata for call in calls]
    return max(
        sum(other["began"] <= span["began"] < other["ended"] for other in spans) for span in spans
    )


def test_a_sandbox_runs_one_decoder_at_a_time_when_told(input_file: Path) -> None:
    assert most_at_once(1, 3, input_file) == 1


def test_a_sandbox_runs_as_many_decoders_at_once_as_it_has_turns(input_file: Path) -> None:
    assert most_at_once(2, 3, input_file) == 2


def test_a_job_waiting_for_its_turn_takes_one_its_processor_gains_meanwhile(
    input_file: Path,
) -> None:
    share = [1]
    turns = Sandbox(LIMITS, turns=lambda: share[0])
    source = step_input(input_file.read_bytes(), "x/y")
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(turns.run, naps_long, str(input_file), source, StepOptions())
        time.sleep(0.3)
        second = pool.submit(turns.run, naps_long, str(input_file), source, StepOptions())
        time.sleep(0.3)
        share[0] = 2
        grown_at = time.monotonic()
        spans = [call.result().metadata for call in (first, second)]

    assert grown_at < spans[1]["began"] < spans[0]["ended"]


def test_limits_follow_the_step_time_limit() -> None:
    assert sandbox.limits_for(memory_bytes=1000, time_limit_ms=2500) == SandboxLimits(
        memory_bytes=1000, cpu_seconds=3, wall_seconds=3
    )
    assert sandbox.limits_for(
        memory_bytes=1000, time_limit_ms=2500, jobs_per_process=50
    ) == SandboxLimits(memory_bytes=1000, cpu_seconds=3, wall_seconds=3, jobs_per_process=50)


def test_a_child_runs_several_jobs_then_a_fresh_one_replaces_it(input_file: Path) -> None:
    pids = [isolated(reports_its_pid, input_file, REUSED).metadata["pid"] for _ in range(7)]

    assert pids[0] == pids[1] == pids[2] != pids[3]
    assert pids[3] == pids[4] == pids[5] != pids[6]
    assert os.getpid() not in pids


def sleeps_as_told(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    """Sleeps as many seconds as the input says; reports its pid."""
    time.sleep(float(stream.read()))
    return StepResult(metadata={"pid": os.getpid()})


def test_the_child_idle_last_takes_the_next_job_whichever_thread_sends_it(
    tmp_path: Path,
) -> None:
    limits = SandboxLimits(memory_bytes=512 * 1024 * 1024, jobs_per_process=10)
    short, long = tmp_path / "short", tmp_path / "long"
    # Long enough apart that both are under way at once even on a loaded machine.
    short.write_bytes(b"0.3")
    long.write_bytes(b"1.0")
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(isolated, sleeps_as_told, path, limits) for path in (short, long)]
        first, last = (job.result().metadata["pid"] for job in jobs)

    following = [isolated(reports_its_pid, short, limits).metadata["pid"] for _ in range(2)]

    assert first != last
    assert following == [last, last]


def test_a_job_takes_only_an_idle_child_with_its_own_limits(input_file: Path) -> None:
    other = SandboxLimits(memory_bytes=256 * 1024 * 1024, jobs_per_process=3)

    pids = [
        isolated(reports_its_pid, input_file, limits).metadata["pid"]
        for limits in (REUSED, other, REUSED, other)
    ]

    assert pids[0] != pids[1]
    assert pids[2:] == pids[:2]


def test_without_reuse_every_job_has_a_child_of_its_own(input_file: Path) -> None:
    pids = {isolated(reports_its_pid, input_file).metadata["pid"] for _ in range(3)}

    assert len(pids) == 3
    assert multiprocessing.active_children() == []


def test_a_step_s_permanent_error_leaves_the_child_in_service(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_bytes(b"no pixels here")
    first = isolated(reports_its_pid, path, REUSED).metadata["pid"]

    assert pid_after(thumbnail.run, path) == first


@pytest.mark.parametrize("function", [raises_unexpectedly, aborts, allocates_a_gigabyte])
def test_a_child_is_not_reused_after_a_crash_or_running_out_of_memory(
    function: StepFunction, input_file: Path
) -> None:
    first = isolated(reports_its_pid, input_file, REUSED).metadata["pid"]

    assert pid_after(function, input_file) != first


def test_a_child_past_its_time_is_killed_and_the_next_job_gets_a_fresh_one(
    input_file: Path,
) -> None:
    limits = SandboxLimits(
        memory_bytes=LIMITS.memory_bytes, cpu_seconds=10, wall_seconds=0.5, jobs_per_process=3
    )
    first = isolated(reports_its_pid, input_file, limits).metadata["pid"]

    assert failure(sleeps, input_file, limits).code == "time_limit_exceeded"
    assert isolated(reports_its_pid, input_file, limits).metadata["pid"] != first
    assert not is_running(first)


def test_a_child_whose_heap_grew_is_not_reused(input_file: Path) -> None:
    # 300 MiB kept is past a quarter of the 512 MiB limit.
    first = isolated(keeps_300_mib, input_file, REUSED).metadata["pid"]

    assert isolated(reports_its_pid, input_file, REUSED).metadata["pid"] != first


def test_each_job_of_a_reused_child_gets_its_own_cpu_time(input_file: Path) -> None:
    limits = SandboxLimits(
        memory_bytes=LIMITS.memory_bytes, cpu_seconds=1, wall_seconds=20, jobs_per_process=3
    )
    first = isolated(burns_600_ms, input_file, limits).metadata["pid"]
    second = isolated(burns_600_ms, input_file, limits).metadata["pid"]

    # 1.2 s of CPU in all, within one second for each job.
    assert first == second
    assert failure(spins, input_file, limits).code == "time_limit_exceeded"


def burns_600_ms(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    started = time.process_time()
    while time.process_time() - started < 0.6:
        pass
    return StepResult(metadata={"pid": os.getpid()})


def test_a_child_idle_too_long_ends_and_the_job_goes_to_a_fresh_one(
    input_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "IDLE_SECONDS", 0.2)
    first = isolated(reports_its_pid, input_file, REUSED).metadata["pid"]
    deadline = time.monotonic() + 5
    while is_running(first):
        assert time.monotonic() < deadline, "the idle child did not end"
        time.sleep(0.02)

    assert isolated(reports_its_pid, input_file, REUSED).metadata["pid"] != first


def test_idle_children_are_ended_on_request(input_file: Path) -> None:
    pid = isolated(reports_its_pid, input_file, REUSED).metadata["pid"]
    assert is_running(pid)

    sandbox.end_idle_decoders()

    assert not is_running(pid)
    assert multiprocessing.active_children() == []


def test_a_child_that_dies_before_taking_its_job_is_a_decoder_failure(input_file: Path) -> None:
    # With 1 MiB of address space the child cannot even read the request.
    limits = SandboxLimits(memory_bytes=1024 * 1024, cpu_seconds=10, wall_seconds=20)

    error = failure(reports_its_pid, input_file, limits)

    assert (error.code, error.message) == ("decoder_crashed", "the decoder exited with status 1")
