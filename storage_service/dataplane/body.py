"""Streaming a request body to disk without holding it in memory or blocking the loop.

Body messages are gathered (not copied) until FLUSH_SIZE bytes are waiting; each batch is
written with one writev by one worker thread and hashed by another, while the event loop
keeps receiving the next batch; at most one batch is in flight per request. Nothing is fsynced
here: the request's end does that once.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future

from storage_service.dataplane.http import Receive

FLUSH_SIZE = 4 * 1024 * 1024
FLUSH_COUNT = 512  # below the writev limit (IOV_MAX, 1024 on Linux)


class BodyResult(enum.Enum):
    COMPLETE = "complete"  # every byte arrived
    DISCONNECTED = "disconnected"  # the client went away mid-body
    TIMED_OUT = "timed_out"  # no byte arrived for the data plane timeout
    TOO_LARGE = "too_large"  # the body ran past the bytes the upload still needs
    FAILED = "failed"  # writing it failed (the disk, not the client)


class BackgroundWriter:
    """Hands batches to worker threads in order: each batch goes to every step (writing
    and hashing run side by side), and a batch starts once the previous one is done."""

    def __init__(self, executor: Executor, steps: Sequence[Callable[[list[bytes]], None]]) -> None:
        self._executor = executor
        self._steps = steps
        self._pending: list[Future[None]] = []

    async def submit(self, data: list[bytes]) -> None:
        await self.wait()
        self._pending = [self._executor.submit(step, data) for step in self._steps]

    async def wait(self) -> None:
        for pending in self._pending:
            # Shielded: cancelling a queued write would leave a gap in the file.
            await asyncio.shield(asyncio.wrap_future(pending))
        self._pending = []

    def submit_nowait(self, data: list[bytes]) -> None:
        """Queue a last batch without awaiting (a cancelled request still keeps it)."""
        previous = self._pending

        def after_previous(step: Callable[[list[bytes]], None]) -> None:
            for pending in previous:
                pending.result()
            step(data)

        self._pending = [self._executor.submit(after_previous, step) for step in self._steps]

    def join(self) -> None:
        """Block until the last batch is done, re-raising an error of any step (from a
        worker thread, even when the request's task was cancelled while awaiting)."""
        pending, self._pending = self._pending, []
        errors = [error for error in (future.exception() for future in pending) if error]
        if errors:
            raise errors[0]


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
