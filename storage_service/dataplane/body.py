"""Streaming a request body to disk without holding it in memory or blocking the loop.

Body messages are gathered (not copied) until FLUSH_SIZE bytes are waiting; each batch is
written with one writev and hashed by a worker thread while the event loop keeps
receiving the next one, with at most one batch in flight per request. Nothing is fsynced
here: the request's end does that once.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from concurrent.futures import Executor, Future

from storage_service.dataplane.http import Receive

FLUSH_SIZE = 4 * 1024 * 1024
FLUSH_COUNT = 512  # below the writev limit (IOV_MAX, 1024 on Linux)


class BodyResult(enum.Enum):
    COMPLETE = "complete"  # every byte arrived
    DISCONNECTED = "disconnected"  # the client went away mid-body
    TIMED_OUT = "timed_out"  # no byte arrived for the data plane timeout
    TOO_LARGE = "too_large"  # the body ran past the bytes the upload still needs


class BackgroundWriter:
    """Hands buffers to a worker thread in order, one write in flight at a time."""

    def __init__(self, executor: Executor, write: Callable[[list[bytes]], None]) -> None:
        self._executor = executor
        self._write = write
        self._pending: Future[None] | None = None

    async def submit(self, data: list[bytes]) -> None:
        await self.wait()
        self._pending = self._executor.submit(self._write, data)

    async def wait(self) -> None:
        if self._pending is not None:
            # Shielded: cancelling a queued write would leave a gap in the file.
            await asyncio.shield(asyncio.wrap_future(self._pending))
            self._pending = None

    def submit_nowait(self, data: list[bytes]) -> None:
        """Queue a last batch without awaiting (a cancelled request still keeps it)."""
        previous = self._pending

        def write_after_previous() -> None:
            if previous is not None:
                previous.result()
            self._write(data)

        self._pending = self._executor.submit(write_after_previous)

    def join(self) -> None:
        """Block until the last write is done, re-raising its error (from a worker thread,
        even when the request's task was cancelled while it was awaiting)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


async def stream_body(
    receive: Receive, writer: BackgroundWriter, *, limit: int, timeout: float
) -> BodyResult:
    """Write the request body through `writer`; never more than `limit` bytes of it.

    Bytes past `limit` are not written (TOO_LARGE): the caller discards the request's
    bytes. The last write may still be in flight on return (or on cancellation, which
    still writes what was received); `writer.join()` waits for it.
    """
    batch: list[bytes] = []
    batched = 0
    received = 0
    try:
        while True:
            try:
                async with asyncio.timeout(timeout):
                    message = await receive()
            except TimeoutError:
                result = BodyResult.TIMED_OUT
                break
            if message["type"] == "http.disconnect":
                result = BodyResult.DISCONNECTED
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                return BodyResult.TOO_LARGE
            if chunk:
                batch.append(chunk)
                batched += len(chunk)
            if batched >= FLUSH_SIZE or len(batch) >= FLUSH_COUNT:
                await writer.submit(batch)
                batch, batched = [], 0
            if not message.get("more_body", False):
                result = BodyResult.COMPLETE
                break
    except asyncio.CancelledError:
        if batch:
            writer.submit_nowait(batch)
        raise
    if batch:
        await writer.submit(batch)
    return result
