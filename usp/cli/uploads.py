"""One file's upload: an intent to the webapp, then its bytes to the signed location.

Re-running an interrupted upload resumes it: the intent's Idempotency-Key is a
fingerprint of the file and the server, so the webapp answers with the same session,
and the server's offset (HEAD) says where to go on. Transient failures (a dropped
connection, a 5xx, a locked or out-of-step upload) are retried with backoff, each time
from the offset the server reports.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from usp.cli.errors import CliError
from usp.cli.rest import RestClient, is_transient
from usp.cli.tus import TusClient, TusError

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
HASH_BLOCK = 1024 * 1024
# Upload states in which the bytes have reached storage.
ARRIVED_STATES = frozenset({"stored", "processing", "ready", "failed"})
# Seconds to wait, after the last byte, for the file's state to say it is stored.
CATALOG_WAIT = 5.0
# A re-run replaces an expired session by a new one; this bounds the chain.
MAX_EXPIRED_SESSIONS = 16


@dataclass(frozen=True)
class RetryPolicy:
    """Up to `attempts` failures in a row (progress resets the count), waiting
    `first_delay` doubled each time up to `max_delay` in between."""

    attempts: int = 8
    first_delay: float = 0.5
    max_delay: float = 15.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_delay, self.first_delay * 2 ** (failures - 1)))


DEFAULT_RETRY = RetryPolicy()


@dataclass
class Progress:
    """What an upload reports as it goes: where it (re)starts, and bytes as they leave."""

    start: Callable[[int, int], None] = field(default=lambda _offset, _total: None)
    sent: Callable[[int], None] = field(default=lambda _count: None)


@dataclass(frozen=True)
class UploadRequest:
    path: Path
    name: str
    pipeline: Sequence[str] = ()
    sha256: str = ""
    chunk_size: int = DEFAULT_CHUNK_SIZE


def has_arrived(resource: dict[str, Any]) -> bool:
    """Whether storage holds the file's bytes (a rejected upload has no SHA-256)."""
    return bool(resource.get("sha256")) and resource.get("state") in ARRIVED_STATES


def file_sha256(path: Path, on_read: Callable[[int], None] | None = None) -> str:
    """The file's SHA-256, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            if on_read:
                on_read(len(block))
    return digest.hexdigest()


def fingerprint(request: UploadRequest, server_url: str) -> str:
    """The Idempotency-Key of an upload: the same file (path, size, modification time)
    sent the same way to the same server gives the same key, so a re-run finds its
    session again; a changed file or different options give a new one."""
    stat = request.path.stat()
    parts = (
        str(request.path.resolve()),
        str(stat.st_size),
        str(stat.st_mtime_ns),
        server_url,
        ",".join(request.pipeline),
        request.sha256,
    )
    return "usp-cli-" + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:48]


class Uploader:
    """Sends one file through an intent and tus; `run()` returns the file resource."""

    def __init__(
        self,
        rest: RestClient,
        tus: TusClient,
        request: UploadRequest,
        *,
        progress: Progress | None = None,
        retry: RetryPolicy | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.rest = rest
        self.tus = tus
        self.request = request
        self.progress = progress or Progress()
        self.retry = retry or DEFAULT_RETRY
        self.cancel = cancel or threading.Event()

    def run(self) -> dict[str, Any]:
        size = self.request.path.stat().st_size
        intent = self._intent(size)
        file_id = str(intent.get("file_id") or "")
        url = str(intent.get("upload_url") or "")
        if not file_id or not url:
            raise CliError("the server's upload intent has no file_id or upload_url")
        file = intent.get("file") or {}
        if has_arrived(file):
            return dict(file)  # sent completely by an earlier run
        if file.get("state") == "failed":
            reason = file.get("error") or "no reason given"
            raise CliError(f"storage refused this file's bytes in an earlier run: {reason}")
        self._transfer(url, size, file_id)
        return self._catalogued(file_id)

    def _catalogued(self, file_id: str) -> dict[str, Any]:
        """The file once the webapp has heard from storage that it is stored (that news
        travels by event, a moment after the last byte), or as it is after a few seconds."""
        deadline = time.monotonic() + CATALOG_WAIT
        delay = 0.05
        while True:
            resource = self.rest.get_file(file_id)
            if resource.get("state") != "awaiting_upload" or time.monotonic() > deadline:
                return resource
            self._pause(delay)
            delay = min(delay * 2, 0.5)

    def _intent(self, size: int) -> dict[str, Any]:
        """The intent for this file. When the one the key finds expired before its bytes
        arrived, a new one replaces it, under a key derived from the expired file, so
        that later re-runs find the new one too."""
        key = fingerprint(self.request, self.rest.url)
        for _ in range(MAX_EXPIRED_SESSIONS):
            intent = self._create_intent(size, key)
            file = intent.get("file") or {}
            if file.get("state") != "expired":
                return intent
            key = "usp-cli-" + hashlib.sha256(f"{key}\0{file.get('id')}".encode()).hexdigest()[:48]
        raise CliError("every upload session for this file has expired")

    def _create_intent(self, size: int, key: str) -> dict[str, Any]:
        return self._retrying_rest(
            lambda: self.rest.create_upload(
                name=self.request.name,
                size=size,
                sha256=self.request.sha256,
                pipeline=self.request.pipeline,
                idempotency_key=key,
            )
        )

    def _transfer(self, url: str, size: int, file_id: str) -> None:
        """Send what the server lacks, from the offset it reports."""
        offset = self._server_offset(url, file_id, reason=None)
        if offset is None:
            return
        self.progress.start(offset, size)
        with self.request.path.open("rb") as handle:
            self._send_from(handle, url, file_id, offset, size)

    def _send_from(self, handle: BinaryIO, url: str, file_id: str, offset: int, size: int) -> None:
        """PATCH chunk after chunk until a PATCH ends at the last byte. A PATCH is sent
        even at offset == size: an empty one asks the server to complete the upload."""
        failures = 0
        while True:
            try:
                offset = self._send_chunk(handle, url, offset, size)
            except TusError as exc:
                failures = self._count_failure(exc, failures)
                resumed = self._server_offset(url, file_id, reason=exc)
                if resumed is None:
                    return
                if resumed > offset:
                    failures = 0  # the server kept part of the chunk: progress
                offset = resumed
                self.progress.start(offset, size)
                continue
            failures = 0
            if offset >= size:
                return

    def _send_chunk(self, handle: BinaryIO, url: str, offset: int, size: int) -> int:
        handle.seek(offset)
        data = handle.read(min(self.request.chunk_size, size - offset))
        if len(data) < min(self.request.chunk_size, size - offset):
            raise CliError(f"{self.request.path} shrank while it was being uploaded")
        return self.tus.patch(
            url, offset=offset, data=data, on_sent=self.progress.sent, cancel=self.cancel
        )

    def _server_offset(self, url: str, file_id: str, *, reason: TusError | None) -> int | None:
        """The server's offset now, or None when the upload completed already (in an
        earlier run, or by a PATCH whose answer was lost)."""
        try:
            return self._with_retries(lambda: self.tus.state(url).offset)
        except TusError as exc:
            if exc.status in (404, 410) and self._arrived(file_id):
                return None
            # A PATCH refused at the last byte (wrong SHA-256, type not allowed) closes
            # the upload: its own answer explains why better than the HEAD's.
            message = reason.message if reason is not None and reason.status else exc.message
            raise CliError(message) from exc

    def _arrived(self, file_id: str) -> bool:
        return has_arrived(self.rest.get_file(file_id))

    def _count_failure(self, exc: TusError, failures: int) -> int:
        failures += 1
        if not exc.transient or failures >= self.retry.attempts:
            raise CliError(exc.message) from exc
        logger.debug("upload chunk failed; retrying", extra={"fields": {"error": exc.message}})
        self._pause(self.retry.delay(failures))
        return failures

    def _with_retries(self, call: Callable[[], int]) -> int:
        failures = 0
        while True:
            try:
                return call()
            except TusError as exc:
                failures += 1
                if not exc.transient or failures >= self.retry.attempts:
                    raise
                self._pause(self.retry.delay(failures))

    def _retrying_rest(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A REST call retried while the server is unreachable or answers 502/503/504;
        safe for intents because their Idempotency-Key makes a repeat return the same."""
        failures = 0
        while True:
            try:
                return call()
            except CliError as exc:
                failures += 1
                if not is_transient(exc) or failures >= self.retry.attempts:
                    raise
                self._pause(self.retry.delay(failures))

    def _pause(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise KeyboardInterrupt
