"""The child side of the sandbox: limit yourself, run the step, send the result.

The forkserver imports this module once, and with it every step and its decoders.
"""

from __future__ import annotations

import json
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


def child_main(
    function: StepFunction,
    path: str,
    source: StepInput,
    options: StepOptions,
    memory_bytes: int,
    cpu_seconds: int,
    sender: Connection,
) -> None:
    os.setpgid(0, 0)  # a group of its own, so the parent can stop programs it starts
    apply_limits(memory_bytes=memory_bytes, cpu_seconds=cpu_seconds)
    try:
        messages = _run(function, path, source, options)
    except PermanentError as error:
        messages = [_error("permanent", error.code, error.message)]
    except MemoryError:
        messages = [_error("out_of_memory", "decoder_out_of_memory", _memory(memory_bytes))]
    except Exception as error:
        messages = [_error("crashed", type(error).__name__, str(error))]
    try:
        for message in messages:
            sender.send_bytes(message)
    finally:
        sender.close()


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
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # SIGXCPU at the soft limit; the hard limit (SIGKILL) is a backstop.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def _error(kind: str, code: str, message: str) -> bytes:
    return json.dumps({"error": {"kind": kind, "code": code, "message": message}}).encode()


def _memory(memory_bytes: int) -> str:
    return f"the decoder needed more than its {memory_bytes // (1024 * 1024)} MiB of memory"


def nothing(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    """A step that does nothing: starting the sandbox, measuring its overhead."""
    return StepResult()
