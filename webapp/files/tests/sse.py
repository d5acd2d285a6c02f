"""Reading a server-sent events stream in tests, one event at a time, with deadlines."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests


@dataclass(frozen=True)
class ServerEvent:
    name: str
    data: dict[str, Any]


class EventReader:
    """Events of a streamed `requests` response (opened with `stream=True` and a read
    timeout, which bounds every wait for a line). Comments are counted, not returned."""

    def __init__(self, response: requests.Response) -> None:
        self._raw = response.raw
        self.comments = 0
        self.retry_ms: int | None = None

    def next_event(self, within: float) -> ServerEvent | None:
        """The next event, or None when the stream ends; fails past `within` seconds."""
        deadline = time.monotonic() + within
        name, data = "message", ""
        while time.monotonic() < deadline:
            line = self._raw.readline()
            if not line:
                return None
            text = line.decode().rstrip("\n")
            if text == "" and data:
                return ServerEvent(name, json.loads(data))
            self._field(text)
            if text.startswith("event: "):
                name = text.removeprefix("event: ")
            elif text.startswith("data: "):
                data += text.removeprefix("data: ")
        raise AssertionError(f"no event within {within}s")

    def _field(self, text: str) -> None:
        if text.startswith(":"):
            self.comments += 1
        elif text.startswith("retry: "):
            self.retry_ms = int(text.removeprefix("retry: "))

    def rest(self, within: float) -> list[ServerEvent]:
        """Every event until the stream ends."""
        events: list[ServerEvent] = []
        while (event := self.next_event(within)) is not None:
            events.append(event)
        return events
