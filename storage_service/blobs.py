"""Content-addressed blob storage on local disk.

An object lives at `<root>/objects/<aa>/<bb>/<sha256>`. Writers stream into a temporary
file under `<root>/tmp` and publish it with an atomic rename after fsync, so a reader
never sees a partial object. A resumable upload's bytes wait in `<root>/partial/<session>`
and are published the same way once verified.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SESSION_ID = re.compile(r"[0-9a-f]{32}")


class InvalidDigest(ValueError):
    """A string that is not 64 lowercase hex characters was used as an object name."""


def is_sha256(value: str) -> bool:
    return _SHA256.fullmatch(value) is not None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """Create `path` and its parents, fsyncing each parent that gained an entry."""
    if path.is_dir():
        return
    _make_dirs(path.parent)
    try:
        path.mkdir()
    except FileExistsError:
        return
    _fsync_dir(path.parent)


class SealedBlob(Protocol):
    """Verified bytes waiting to be published under their digest."""

    def commit(self) -> bool: ...

    def abort(self) -> None: ...


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.tmp_dir = self.root / "tmp"
        self.partial_dir = self.root / "partial"
        for directory in (self.objects_dir, self.tmp_dir, self.partial_dir):
            _make_dirs(directory)

    def path(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise InvalidDigest(f"not a SHA-256 hex digest: {sha256[:80]!r}")
        return self.objects_dir / sha256[:2] / sha256[2:4] / sha256

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def partial_path(self, session_id: str) -> Path:
        if _SESSION_ID.fullmatch(session_id) is None:
            raise ValueError(f"not an upload session id: {session_id[:80]!r}")
        return self.partial_dir / session_id

    def adopt(self, path: Path, sha256: str) -> PartialBlob:
        """A complete, fsynced file to publish under `sha256` (the caller verified it)."""
        return PartialBlob(self, path, sha256)

    def publish(self, temp_path: Path, sha256: str) -> bool:
        """Rename a fsynced file into place; False (and the file dropped) when already stored."""
        final = self.path(sha256)
        _make_dirs(final.parent)
        if final.is_file():
            temp_path.unlink(missing_ok=True)
            return False
        os.replace(temp_path, final)
        _fsync_dir(final.parent)
        return True

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def delete(self, sha256: str) -> bool:
        """Remove an object; False when it was not there."""
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True


class BlobWriter:
    """Streams bytes into a temporary file, hashing and counting them as they arrive."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        self._file = os.fdopen(fd, "wb")
        self.temp_path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def seal(self) -> None:
        """Flush and fsync the bytes so far; nothing more may be written."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def commit(self) -> bool:
        """Publish the object under its digest; False when it was already stored."""
        self.seal()
        self._done = True
        return self._store.publish(self.temp_path, self.sha256)

    def abort(self) -> None:
        """Drop the temporary file (a no-op after commit)."""
        if self._done:
            return
        self._done = True
        self._file.close()
        self.temp_path.unlink(missing_ok=True)


class PartialBlob:
    """A resumable upload's file, published in place of a temporary one: no second copy.

    abort() leaves the file alone; the upload session decides what becomes of it.
    """

    def __init__(self, store: BlobStore, path: Path, sha256: str) -> None:
        self._store = store
        self.path = path
        self.sha256 = sha256

    def commit(self) -> bool:
        return self._store.publish(self.path, self.sha256)

    def abort(self) -> None:
        return None
