"""Content-addressed blob storage on local disk.

An object lives at `<root>/objects/<aa>/<bb>/<sha256>`. Writers stream into a temporary
file under `<root>/tmp` and publish it with an atomic rename after fsync, so a reader
never sees a partial object.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")


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


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.tmp_dir = self.root / "tmp"
        _make_dirs(self.objects_dir)
        _make_dirs(self.tmp_dir)

    def path(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise InvalidDigest(f"not a SHA-256 hex digest: {sha256[:80]!r}")
        return self.objects_dir / sha256[:2] / sha256[2:4] / sha256

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

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
        final = self._store.path(self.sha256)
        _make_dirs(final.parent)
        self._done = True
        if final.is_file():
            self.temp_path.unlink(missing_ok=True)
            return False
        os.replace(self.temp_path, final)
        _fsync_dir(final.parent)
        return True

    def abort(self) -> None:
        """Drop the temporary file (a no-op after commit)."""
        if self._done:
            return
        self._done = True
        self._file.close()
        self.temp_path.unlink(missing_ok=True)
