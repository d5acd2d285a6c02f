"""Waiting for a condition with a deadline, the one way every test waits; and a free
loopback port for servers a test starts."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

POLL_INTERVAL = 0.02


def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "") -> Any:
    """Poll `condition` until it returns something truthy and return that value; fail the
    test with `what` in the message when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or 'the condition'}"
            )
        time.sleep(POLL_INTERVAL)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
