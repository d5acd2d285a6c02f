"""Running a step in a child process with a memory and CPU ceiling.

Decoders of untrusted formats (Pillow, PDFium, archive readers, ffmpeg) run in a child
forked from a forkserver that has already imported them, never in the threaded worker
itself. The child limits its own address space (RLIMIT_AS) and CPU time (RLIMIT_CPU,
moved up job by job), which programs it starts inherit, and writes no core dumps. It
opens each input by the path the parent gives it and sends back JSON and raw derivative
bytes, never a pickle, so even a decoder subverted by its input cannot make the parent
run code. A child that dies, runs out of memory or overstays becomes a DecoderFailure,
and the child is gone.

A child serves jobs one at a time, whichever worker thread sends them, up to
`SandboxLimits.jobs_per_process` of them (USP_DECODER_JOBS_PER_PROCESS), as worker
processes elsewhere are recycled after so many tasks. A fresh child has no free heap of
its own, so every buffer a decoder fills is new memory, faulted in page by page: a
1600x1200 JPEG's thumbnails took about 10,000 page faults and 24 ms of system time
beside 82 ms of decoding and encoding in a child per job. A reused child keeps its heap
warm; it is not reused after anything but a clean result or a step's own permanent
error, nor once its heap has grown past a quarter of its memory limit, and it ends
after IDLE_SECONDS without work. The next job goes to the child that became idle
last, whichever thread sends it, so a processor keeps only as many children as decode
at once. On two cores with two processors, a child per worker thread instead (eight in
all, four at work) gave 2% fewer thumbnails per second for the same CPU per image.
`prefer_huge_pages` has glibc back the decoders' heaps with transparent huge pages
where the kernel allows them only on request (THP "madvise"), which makes the first
job of a child cheaper (about 2,000 faults, 7 ms).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import signal
import statistics
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext
from typing import Any

from processor_service.sandbox_child import ACCEPTED, nothing, serve
from processor_service.steps import (
    DerivativeOutput,
    PermanentError,
    StepFunction,
    StepInput,
    StepOptions,
    StepResult,
)

logger = logging.getLogger(__name__)

# Imported once by the forkserver so each child starts with the decoders loaded.
PRELOAD = ["processor_service.sandbox_child"]
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
POLL_SECONDS = 0.2
REAP_SECONDS = 5.0
# How long a child waits for its next job before it ends; how long a request waits
# for the child to take it before the child counts as gone.
IDLE_SECONDS = 60.0
ACCEPT_SECONDS = 5.0
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
# glibc 2.35+ reads it at start; older ones ignore tunables they do not know.
TUNABLES_VARIABLE = "GLIBC_TUNABLES"
HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb=1"


@dataclass(frozen=True)
class SandboxLimits:
    """Each job's ceilings, and how many jobs one child runs before a fresh one
    replaces it (1: a child per job)."""

    memory_bytes: int = 1024**3
    cpu_seconds: int = 300
    wall_seconds: float = 300.0
    jobs_per_process: int = 1


class Sandbox:
    """Runs isolated steps in children under `limits`, at most `turns()` of them at
    once in this process (asked again whenever a job waits for its turn).

    Decoding is CPU-bound: decoders beyond the cores only take turns on them, and each
    turn evicts the others' images from the CPU caches. On two cores, the thumbnail step
    cost 70 ms of CPU per image with two decoders at work, 76 with four and 80-83 with
    eight, for fewer images per second. A worker thread waiting here for its turn keeps
    its job (the wait counts toward the job's time limit); the threads' storage calls
    and events go on meanwhile.
    """

    def __init__(self, limits: SandboxLimits, *, turns: Callable[[], int]) -> None:
        self.limits = limits
        self._turns = turns
        self._working = 0
        self._turn_freed = threading.Condition()

    def run(
        self, function: StepFunction, path: str, source: StepInput, options: StepOptions
    ) -> StepResult:
        """`function(open(path), source, options)` in a limited child, once a turn is free."""
        # Short waits, so that the worker's own time limit can interrupt this one and a
        # share that has grown meanwhile is seen.
        while not self._take_turn(timeout=POLL_SECONDS):
            pass
        try:
            return run_isolated(function, path, source, options, self.limits)
        finally:
            with self._turn_freed:
                self._working -= 1
                self._turn_freed.notify()

    def _take_turn(self, *, timeout: float) -> bool:
        with self._turn_freed:
            if not self._turn_freed.wait_for(lambda: self._working < self._turns(), timeout):
                return False
            self._working += 1
            return True


class DecoderFailure(Exception):
    """The child process died, ran out of memory or ran out of time."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StepCrashed(Exception):
    """The step raised an unexpected exception inside the child."""


_context_lock = threading.Lock()
_context: ForkServerContext | None = None
# multiprocessing reads a forkserver child's exit status from a pipe the first time
# the child is polled, and Process.start polls every other child: two threads polling
# one child at once could both read, and the loser would see 255. So every start and
# every poll (exitcode, kill, close) happens under this lock; waits happen outside it.
_lifecycle = threading.Lock()


def prefer_huge_pages(environ: MutableMapping[str, str]) -> None:
    """Ask glibc's malloc, in processes started later with `environ` (the forkserver,
    hence every decoder), for transparent huge pages; a hugetlb tunable already set
    there is left as it is.

    Call it on `os.environ` before any thread starts (changing the environment is not
    thread-safe), i.e. at the start of the processor's process.
    """
    tunables = [item for item in environ.get(TUNABLES_VARIABLE, "").split(":") if item]
    if not any(item.startswith("glibc.malloc.hugetlb=") for item in tunables):
        environ[TUNABLES_VARIABLE] = ":".join([*tunables, HUGE_PAGES_TUNABLE])


def context() -> ForkServerContext:
    """The forkserver context, its preload set before the server first starts."""
    global _context
    with _context_lock:
        if _context is None:
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(PRELOAD)
        return _context


def warm_up() -> None:
    """Start the forkserver and its imports in the background, not in the first job."""
    threading.Thread(target=_prime, name="usp-sandbox-warm-up", daemon=True).start()


def _prime() -> None:
    try:
        run_isolated(nothing, os.devnull, StepInput("", 0, ""), StepOptions(), SandboxLimits())
    except Exception:
        logger.warning("the decoder sandbox could not be started", exc_info=True)


def run_isolated(
    function: StepFunction,
    path: str,
    source: StepInput,
    options: StepOptions,
    limits: SandboxLimits,
) -> StepResult:
    """`function(open(path), source, options)` in a limited child; its result or error.

    The most recently idle child with the same limits takes the job when there is one
    (see Decoder); any failure but a step's own permanent error ends the child.
    """
    decoder = _accepting(limits, (function, path, source, options))
    try:
        result = _receive(decoder.connection, decoder.process, limits)
    except PermanentError:
        _keep(decoder)
        raise
    except BaseException:
        decoder.end()
        raise
    _keep(decoder)
    return result


@dataclass
class Decoder:
    """A child that runs the jobs its parent sends, one at a time, until it has
    run `limits.jobs_per_process` of them, has idled IDLE_SECONDS or is unfit."""

    process: Any
    connection: Connection
    limits: SandboxLimits
    ended: bool = False

    @classmethod
    def start(cls, limits: SandboxLimits) -> Decoder:
        connection, child_end = context().Pipe(duplex=True)
        arguments = (
            child_end,
            limits.memory_bytes,
            limits.cpu_seconds,
            limits.jobs_per_process,
            IDLE_SECONDS,
        )
        process = context().Process(target=serve, args=arguments, name="usp-decoder", daemon=True)
        with _lifecycle:
            process.start()
        child_end.close()
        return cls(process, connection, limits)

    def submit(self, request: tuple[Any, ...]) -> bool:
        """Hand the child `request`; False when it ended before taking it."""
        try:
            self.connection.send(request)
            if not self.connection.poll(ACCEPT_SECONDS):
                return False
            return self.connection.recv_bytes(len(ACCEPTED)) == ACCEPTED
        except (EOFError, OSError):
            return False

    def end(self) -> None:
        """Kill the child if it still runs and free what it held; once is enough."""
        _forget(self)
        with _idle_lock:
            if self.ended:
                return
            self.ended = True
        self.connection.close()
        _reap(self.process)


# The idle decoders, the most recently used last.
_idle_lock = threading.Lock()
_all_idle: dict[int, Decoder] = {}


def _accepting(limits: SandboxLimits, request: tuple[Any, ...]) -> Decoder:
    """A child that has taken `request`: the most recently idle one, or a new one."""
    decoder = _take_idle(limits)
    if decoder is not None:
        if not decoder.ended and decoder.submit(request):
            return decoder
        decoder.end()
    decoder = Decoder.start(limits)
    if not decoder.submit(request):
        failure = _death(decoder.process)  # read before end() frees the process
        decoder.end()
        raise failure
    return decoder


def _take_idle(limits: SandboxLimits) -> Decoder | None:
    """The most recently idle decoder with `limits`, no longer idle; None if none is."""
    with _idle_lock:
        for key in reversed(_all_idle):
            if _all_idle[key].limits == limits:
                return _all_idle.pop(key)
    return None


def _keep(decoder: Decoder) -> None:
    """Keep `decoder` for a next job, if it may run more than one."""
    if decoder.limits.jobs_per_process <= 1:
        decoder.end()
        return
    with _idle_lock:
        _all_idle[id(decoder)] = decoder


def _forget(decoder: Decoder) -> None:
    with _idle_lock:
        _all_idle.pop(id(decoder), None)


def end_idle_decoders() -> None:
    """End every idle decoder (a worker stopping, a test ending)."""
    with _idle_lock:
        decoders = list(_all_idle.values())
    for decoder in decoders:
        decoder.end()


def _receive(receiver: Connection, process: Any, limits: SandboxLimits) -> StepResult:
    deadline = time.monotonic() + limits.wall_seconds
    # Short polls, so that the worker's own time limit can interrupt the wait.
    while not receiver.poll(POLL_SECONDS):
        if time.monotonic() > deadline:
            raise DecoderFailure(
                "time_limit_exceeded", f"the decoder ran longer than {limits.wall_seconds:g}s"
            )
    try:
        header = json.loads(receiver.recv_bytes(MAX_MESSAGE_BYTES))
        blobs = [receiver.recv_bytes(MAX_MESSAGE_BYTES) for _ in header.get("derivatives", ())]
        return _result(header, blobs)
    except EOFError:
        raise _death(process) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        message = f"the decoder sent a broken result: {error!r}"
        raise DecoderFailure("decoder_crashed", message) from None


def _result(header: dict[str, Any], blobs: list[bytes]) -> StepResult:
    error = header.get("error")
    if error is not None:
        raise _error(error)
    metadata = header["metadata"]
    if not isinstance(metadata, dict):
        raise TypeError("the metadata is not an object")
    derivatives = [
        DerivativeOutput(str(item["kind"]), str(item["content_type"]), blob)
        for item, blob in zip(header["derivatives"], blobs, strict=True)
    ]
    return StepResult(metadata=metadata, derivatives=derivatives)


def _error(error: dict[str, str]) -> Exception:
    kind, code, message = error["kind"], error["code"], error["message"]
    if kind == "permanent":
        return PermanentError(code, message)
    if kind == "out_of_memory":
        return DecoderFailure("decoder_out_of_memory", message)
    return StepCrashed(f"{code}: {message}")


def _death(process: Any) -> DecoderFailure:
    """Why a child ended without a result, judged from how it ended."""
    status = _exit_status(process, REAP_SECONDS)
    if status is None or status >= 0:
        return DecoderFailure("decoder_crashed", f"the decoder exited with status {status}")
    number = -status
    name = _signal_name(number)
    if number == signal.SIGXCPU:
        return DecoderFailure("time_limit_exceeded", "the decoder used up its CPU time")
    if number == signal.SIGKILL:
        return DecoderFailure(
            "decoder_out_of_memory", "the decoder was killed (SIGKILL), most likely out of memory"
        )
    detail = "crashed" if number in _CRASH_SIGNALS else "was stopped"
    return DecoderFailure("decoder_crashed", f"the decoder {detail} with signal {name}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _exit_status(process: Any, timeout: float) -> int | None:
    """The child's exit status once it has ended, waiting at most `timeout` seconds."""
    wait([process.sentinel], timeout)
    with _lifecycle:
        status: int | None = process.exitcode
    return status


def _reap(process: Any) -> None:
    """Make sure the child is gone: killed with anything it started if still running,
    and its resources freed."""
    status = _exit_status(process, 0)
    if status is None:
        with _lifecycle:
            _kill_group(process)
        status = _exit_status(process, REAP_SECONDS)
    if status is not None:
        with _lifecycle:
            process.close()


def _kill_group(process: Any) -> None:
    """SIGKILL the child's process group (it made one of its own), else the child."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def measure_overhead(calls: int = 20) -> float:
    """The median cost in seconds of one sandboxed call of a step that does nothing.

    Run from `python -m processor_service` or `python -c`; a main script (pytest's,
    say) is imported again by every child, as multiprocessing does, and costs more.
    """
    source, options, limits = StepInput("", 0, ""), StepOptions(), SandboxLimits()
    run_isolated(nothing, os.devnull, source, options, limits)
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        run_isolated(nothing, os.devnull, source, options, limits)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def limits_for(
    *, memory_bytes: int, time_limit_ms: int, jobs_per_process: int = 1
) -> SandboxLimits:
    seconds = max(1, math.ceil(time_limit_ms / 1000))
    return SandboxLimits(
        memory_bytes=memory_bytes,
        cpu_seconds=seconds,
        wall_seconds=seconds,
        jobs_per_process=jobs_per_process,
    )
