"""`python -m processor_service` as its own process: starts, and stops on SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO

REPOSITORY = Path(__file__).resolve().parents[2]


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def wait_for_line(lines: queue.Queue[str], text: str, timeout: float = 20.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(text in line for line in seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{text!r} never logged; got {seen}"
        try:
            seen.append(lines.get(timeout=remaining))
        except queue.Empty:
            continue
    return seen


def test_processor_process_stops_gracefully_on_sigterm() -> None:
    env = {
        **os.environ,
        "USP_BROKER_URL": "",
        "USP_BROKER_NAMESPACE": f"proc-{uuid.uuid4().hex[:8]}",
        "USP_STORAGE_GRPC_TARGET": "127.0.0.1:9",
        "USP_LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "processor_service"],
        cwd=REPOSITORY,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stderr, lines), daemon=True).start()
    try:
        wait_for_line(lines, "processor worker started")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        wait_for_line(lines, "processor worker stopped")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
