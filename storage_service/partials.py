"""A resumable upload's partial file: exclusive writes at an offset, hashed as they go.

One request at a time writes to a session's file: `PartialWrite.open` takes an exclusive
`flock` without waiting (it works across processes too), so a second writer is refused
with `Locked` instead of interleaving. The SHA-256 of the bytes so far is kept per
process in a `HasherCache`; after a restart (or in another process) it is rebuilt from
the file once.
"""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage_service.errors import ChecksumMismatch, InvalidObject, Locked, TooLarge

REHASH_CHUNK = 8 * 1024 * 1024
CHECKSUM_ALGORITHMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "md5": hashlib.md5}

Hasher = Any  # hashlib's hash objects have no public type


@dataclass(frozen=True)
class ChunkChecksum:
    """An `Upload-Checksum` header: the digest one request's body must have."""

    algorithm: str
    digest: bytes

    @classmethod
    def parse(cls, header: str) -> ChunkChecksum:
        """Parse "<algorithm> <base64 digest>"; InvalidObject when malformed or unknown."""
        algorithm, _, encoded = header.strip().partition(" ")
        if algorithm.lower() not in CHECKSUM_ALGORITHMS:
            supported = ",".join(CHECKSUM_ALGORITHMS)
            raise InvalidObject(
                f"unsupported checksum algorithm {algorithm[:40]!r}; use {supported}"
            )
        try:
            digest = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidObject("the Upload-Checksum digest is not base64") from exc
        if not digest:
            raise InvalidObject("the Upload-Checksum header has no digest")
        return cls(algorithm.lower(), digest)

    def hasher(self) -> Hasher:
        return CHECKSUM_ALGORITHMS[self.algorithm]()


class HasherCache:
    """Each open session's SHA-256 state at its last settled offset, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, Hasher]] = {}

    def get(self, session_id: str, offset: int) -> Hasher | None:
        """A copy of the state at `offset`, or None when this process has none."""
        with self._lock:
            entry = self._entries.get(session_id)
            if entry is None or entry[0] != offset:
                return None
            return entry[1].copy()

    def put(self, session_id: str, offset: int, hasher: Hasher) -> None:
        with self._lock:
            self._entries[session_id] = (offset, hasher.copy())

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._entries.pop(session_id, None)


def _lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise Locked("another request is writing to this upload") from exc
        raise


def _write_all(fd: int, chunks: Sequence[bytes], total: int) -> None:
    """writev until every byte is written (a regular file rarely takes less)."""
    written = os.writev(fd, chunks)
    if written < total:
        rest = memoryview(b"".join(chunks))[written:]
        while rest:
            rest = rest[os.write(fd, rest) :]


def _start_writeback(fd: int, offset: int, length: int) -> None:
    # Starts writing these pages to disk now rather than at the request's fsync, which
    # then has little left to do; the pages also leave the page cache once written.
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def rehash(fd: int, length: int) -> Hasher:
    """The SHA-256 state of the first `length` bytes of a file."""
    hasher = hashlib.sha256()
    position = 0
    while position < length:
        chunk = os.pread(fd, min(REHASH_CHUNK, length - position), position)
        if not chunk:
            raise OSError(f"the partial file ends at {position}, expected {length} bytes")
        hasher.update(chunk)
        position += len(chunk)
    return hasher


class PartialWrite:
    """One request's exclusive write to a partial file: from `start` up to `limit` bytes.

    `settled` is the offset the session had recorded when the lock was taken; the bytes
    after it on disk were never acknowledged and are cut off.
    """

    def __init__(self, fd: int, path: Path, *, settled: int, limit: int) -> None:
        self._fd = fd
        self.path = path
        self.settled = settled
        self.start = settled
        self.offset = settled
        self.limit = limit
        self._start_hasher: Hasher = hashlib.sha256()
        self._hasher: Hasher = hashlib.sha256()
        self._chunk: Hasher | None = None
        self._checksum: ChunkChecksum | None = None
        self._closed = False

    @classmethod
    def open(cls, path: Path, *, limit: int) -> PartialWrite:
        """Open and lock the file; FileNotFoundError when the session's file is gone."""
        fd = os.open(path, os.O_RDWR)
        try:
            _lock(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, path, settled=0, limit=limit)

    def prepare(self, *, settled: int, hasher: Hasher | None, restart: bool) -> None:
        """Position at the settled offset (or at 0 to start over) with its SHA-256 state."""
        on_disk = os.fstat(self._fd).st_size
        if on_disk < settled:
            raise OSError(f"the partial file has {on_disk} bytes, {settled} were acknowledged")
        self.settled = settled
        self.start = 0 if restart else settled
        os.ftruncate(self._fd, self.start)
        if restart:
            hasher = hashlib.sha256()
        elif hasher is None:
            hasher = rehash(self._fd, self.start)
        self._start_hasher = hasher
        self._hasher = hasher.copy()
        self.offset = self.start
        os.lseek(self._fd, self.start, os.SEEK_SET)

    def expect_checksum(self, checksum: ChunkChecksum | None) -> None:
        self._checksum = checksum
        self._chunk = checksum.hasher() if checksum is not None else None

    @property
    def has_checksum(self) -> bool:
        return self._checksum is not None

    def write(self, chunks: Sequence[bytes]) -> None:
        """Append `chunks` and digest them; TooLarge (nothing written) past the limit."""
        self.store(chunks)
        self.digest(chunks)

    def store(self, chunks: Sequence[bytes]) -> None:
        """The disk half of write(): append `chunks` (TooLarge when past the limit)."""
        total = sum(len(chunk) for chunk in chunks)
        if self.offset + total > self.limit:
            raise TooLarge(f"the upload is limited to {self.limit} bytes")
        _write_all(self._fd, chunks, total)
        _start_writeback(self._fd, self.offset, total)
        self.offset += total

    def digest(self, chunks: Sequence[bytes]) -> None:
        """The hashing half of write(); it may run beside store() on another thread, as
        long as each half sees the batches in order. After a failed store() the digest
        no longer matches the file: discard() the request's bytes."""
        for chunk in chunks:
            self._hasher.update(chunk)
            if self._chunk is not None:
                self._chunk.update(chunk)

    def verify_chunk(self) -> None:
        """ChecksumMismatch (and the chunk discarded) when the body's digest differs."""
        if self._checksum is None or self._chunk is None:
            return
        if self._chunk.digest() != self._checksum.digest:
            self.discard()
            raise ChecksumMismatch(
                f"{self._checksum.algorithm} checksum mismatch: the chunk was discarded"
            )

    def discard(self) -> None:
        """Forget what this request wrote."""
        os.ftruncate(self._fd, self.start)
        os.lseek(self._fd, self.start, os.SEEK_SET)
        self.offset = self.start
        self._hasher = self._start_hasher.copy()

    def sync(self) -> None:
        os.fsync(self._fd)

    @property
    def hasher(self) -> Hasher:
        return self._hasher

    @property
    def sha256(self) -> str:
        return str(self._hasher.hexdigest())

    def head(self, size: int) -> bytes:
        return os.pread(self._fd, size, 0)

    def close(self) -> None:
        """Release the lock (closing the descriptor does) once; safe to call again."""
        if not self._closed:
            self._closed = True
            os.close(self._fd)
