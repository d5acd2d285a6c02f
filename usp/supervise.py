"""Run several service processes as one unit: start them, restart one that dies, stop
them all on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

RESTART_DELAY = 1.0
STOP_TIMEOUT = 15.0


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = field(default=0)

    def start(self, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(list(self.argv), env=dict(env))  # noqa: S603
        logger.info("started", extra={"fields": {"service": self.name, "pid": self.process.pid}})

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("killing", extra={"fields": {"service": self.name}})
            self.process.kill()
            self.process.wait()


def _restart_if_exited(child: Child, env: Mapping[str, str], stop: threading.Event) -> None:
    code = child.exited()
    if code is None:
        return
    logger.error("exited; restarting", extra={"fields": {"service": child.name, "code": code}})
    if not stop.wait(RESTART_DELAY):
        child.restarts += 1
        child.start(env)


def supervise(children: Sequence[Child], *, env: Mapping[str, str] | None = None) -> int:
    """Start every child, restart any that exits, and stop all on SIGTERM or SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    environment = dict(os.environ if env is None else env)
    for child in children:
        child.start(environment)
    while not stop.wait(0.5):
        for child in children:
            _restart_if_exited(child, environment, stop)
    for child in children:
        child.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        child.wait(deadline)
    return 0
