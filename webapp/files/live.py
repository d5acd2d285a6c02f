"""Live status as server-sent events: a file's resource, sent whenever it changes.

The stream polls the catalog (`webapp.files.watching`) every 0.3 s, so an applied event
shows within about that long wherever the consumer runs. Between changes a comment line
goes out every 15 s, which keeps proxies from closing an idle stream and lets the server
notice a client that went away.

Each open stream holds one web server thread (waitress serves from a fixed pool), so
streams are bounded three ways: at most `live_max_streams` at once per process (one
more is refused with 503, and the pages fall back to polling), each lasts at most
`live_stream_seconds` (the browser's EventSource then reconnects by itself), and all of
them end at once when the server stops (`streams_end_all`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from webapp.accounts.models import User
from webapp.core.errors import NotFound
from webapp.files.models import SETTLED_FILE_STATES, File
from webapp.files.watching import file_polls

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.3
HEARTBEAT_INTERVAL = 15.0
# How long the browser waits before reconnecting after a stream ends.
RECONNECT_MS = 1000

Render = Callable[[File], dict[str, Any]]


class StreamSlots:
    """The open streams of this process: at most `limit` at once, ended together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[threading.Event] = set()

    def take(self, limit: int) -> threading.Event | None:
        """An event that ends the new stream when set; None when `limit` are open."""
        with self._lock:
            if len(self._open) >= limit:
                return None
            ended = threading.Event()
            self._open.add(ended)
            return ended

    def give_back(self, ended: threading.Event) -> None:
        with self._lock:
            self._open.discard(ended)

    def end_all(self) -> None:
        with self._lock:
            for ended in self._open:
                ended.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)


SLOTS = StreamSlots()


def streams_end_all() -> None:
    """End every open stream of this process within one poll (the server is stopping)."""
    SLOTS.end_all()


def file_event_stream(
    *,
    user: User,
    file_id: str,
    render: Render,
    ended: threading.Event,
    lifetime: float,
    client_gone: Callable[[], bool] = lambda: False,
    poll_interval: float = POLL_INTERVAL,
    heartbeat: float = HEARTBEAT_INTERVAL,
) -> Iterator[bytes]:
    """The stream's bytes: the file now (event "file"), then the file again whenever its
    resource changes, until it is settled, `lifetime` seconds have passed, `ended` is set
    or the client is gone. A file deleted meanwhile ends it with an event "gone"."""
    yield f"retry: {RECONNECT_MS}\n\n".encode()
    deadline = time.monotonic() + lifetime
    last: dict[str, Any] | None = None
    quiet_since = time.monotonic()
    polls = file_polls(user=user, file_id=file_id, stopped=ended, poll_interval=poll_interval)
    try:
        for file in polls:
            resource = render(file)
            now = time.monotonic()
            if resource != last:
                last, quiet_since = resource, now
                yield server_event("file", resource)
            elif now - quiet_since >= heartbeat:
                quiet_since = now
                yield b": keep-alive\n\n"
            if file.state in SETTLED_FILE_STATES or now >= deadline or client_gone():
                return
    except NotFound:
        yield server_event("gone", {"id": file_id})


def server_event(name: str, data: dict[str, Any]) -> bytes:
    """One event: its name and its data as one line of JSON."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {body}\n\n".encode()
