"""Resident memory of processes, sampled from /proc while something runs."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

SAMPLE_INTERVAL = 0.02


def rss_bytes(pid: int) -> int | None:
    """VmRSS of a process in bytes; None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


class RssSampler:
    """Within `with`, samples every process's VmRSS every 20 ms on a thread of its own;
    `growth()` is then each one's peak minus its RSS when the block began, and
    `growth_at_mark()` the same up to the moment `mark()` was called."""

    def __init__(self, pids: Mapping[str, int], interval: float = SAMPLE_INTERVAL) -> None:
        self.pids = dict(pids)
        self.interval = interval
        self.idle: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.marked: dict[str, int] = {}
        self.samples = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def __enter__(self) -> RssSampler:
        self.idle = self._sample()
        self.peak = dict(self.idle)
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._record(self._sample())

    def mark(self) -> None:
        self._record(self._sample())
        with self._lock:
            self.marked = dict(self.peak)

    def growth(self) -> dict[str, int]:
        return {name: self.peak[name] - self.idle[name] for name in self.idle}

    def growth_at_mark(self) -> dict[str, int]:
        return {name: self.marked[name] - self.idle[name] for name in self.idle}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._record(self._sample())

    def _sample(self) -> dict[str, int]:
        sampled = {name: rss_bytes(pid) for name, pid in self.pids.items()}
        return {name: value for name, value in sampled.items() if value is not None}

    def _record(self, sample: Mapping[str, int]) -> None:
        with self._lock:
            self.samples += 1
            for name, value in sample.items():
                self.peak[name] = max(self.peak.get(name, 0), value)
