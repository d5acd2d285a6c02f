"""The child side of the sandbox: limit yourself, then run the steps the parent sends,
one at a time, answering each with its result.

The forkserver imports this module once, and with it every step and its decoders.
"""

from __future__ import annotations

import json
import math
import os
import resource
from multiprocessing.connection import Connection
from typing import Any, BinaryIO

from PIL import Image

import processor_service.steps  # noqa: F401 - preloads every step and its decoders
from processor_service.steps import (
    PermanentError,
    StepFunction,
    StepInput,
    StepOptions,
    StepResult,
)

Image.init()  # every Pillow format plugin, once, in the forkserver


# The child's answer to a request, before it runs it: the parent knows the child took
# the job (and did not end, idle or used up, just before the request arrived).
ACCEPTED = b"accepted"
# A child whose heap has grown past this share of its memory limit is not reused.
REUSE_MEMORY_SHARE = 4


def serve(
    connection: Connection,
    memory_bytes: int,
    cpu_seconds: int,
    jobs: int,
    idle_seconds: float,
) -> None:
    """Run up to `jobs` requests from `connection` one after another, each within
    `cpu_seconds` of CPU, then end; end sooner when idle for `idle_seconds`, after a
    step that failed unexpectedly or ran out of memory, or when the heap has grown."""
    os.setpgid(0, 0)  # a group of its own, so the parent can stop programs it starts
    apply_limits(memory_bytes=memory_bytes, cpu_seconds=cpu_seconds * jobs)
    try:
        for _ in range(jobs):
            if not connection.poll(idle_seconds):
                return
            function, path, source, options = connection.recv()
            connection.send_bytes(ACCEPTED)
            _limit_cpu_from_now(cpu_seconds)
            messages, healthy = _job(function, path, source, options, memory_bytes)
            for message in messages:
                connection.send_bytes(message)
            if not healthy or _resident_bytes() > memory_bytes // REUSE_MEMORY_SHARE:
                return
    except (EOFError, OSError):
        return  # the parent has gone
    finally:
        connection.close()


def _job(
    function: StepFunction, path: str, source: StepInput, options: StepOptions, memory_bytes: int
) -> tuple[list[bytes], bool]:
    """The job's messages, and whether the child is fit for another job after it."""
    try:
        return _run(function, path, source, options), True
    except PermanentError as error:
        return [_error("permanent", error.code, error.message)], True
    except MemoryError:
        return [_error("out_of_memory", "decoder_out_of_memory", _memory(memory_bytes))], False
    except Exception as error:
        return [_error("crashed", type(error).__name__, str(error))], False


def _run(function: StepFunction, path: str, source: StepInput, options: StepOptions) -> list[bytes]:
    """The result as messages: a JSON header, then each derivative's bytes."""
    with open(path, "rb") as stream:
        result = function(stream, source, options)
    header: dict[str, Any] = {
        "metadata": result.metadata,
        "derivatives": [
            {"kind": item.kind, "content_type": item.content_type} for item in result.derivatives
        ],
    }
    return [json.dumps(header).encode(), *(item.data for item in result.derivatives)]


def apply_limits(*, memory_bytes: int, cpu_seconds: int) -> None:
    """The limits of the child's whole life: `cpu_seconds` is what all its jobs may use."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # SIGXCPU at the soft limit; the hard limit (SIGKILL) is a backstop.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def _limit_cpu_from_now(cpu_seconds: int) -> None:
    """SIGXCPU once this job has used `cpu_seconds` (RLIMIT_CPU counts the process's
    whole life in whole seconds, so the soft limit moves up by what earlier jobs used,
    rounded up: a job gets at least its time)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = math.ceil(usage.ru_utime + usage.ru_stime)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (min(used + cpu_seconds, hard), hard))


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _error(kind: str, code: str, message: str) -> bytes:
    return json.dumps({"error": {"kind": kind, "code": code, "message": message}}).encode()


def _memory(memory_bytes: int) -> str:
    return f"the decoder needed more than its {memory_bytes // (1024 * 1024)} MiB of memory"


def nothing(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    """A step that does nothing: starting the sandbox, measuring its overhead."""
    return StepResult()
