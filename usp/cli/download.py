"""Saving downloaded bytes: all or nothing, and only when the SHA-256 matches."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from usp.cli.errors import CliError


def save_verified(
    chunks: Iterable[bytes],
    destination: Path,
    *,
    expected_sha256: str,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write the chunks to a temporary file beside `destination`, check the digest, then
    rename it into place. On a mismatch or any error nothing is left behind.

    Returns the number of bytes written.
    """
    fd, temp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            digest, written = _copy(chunks, handle, on_progress)
            handle.flush()
            os.fsync(handle.fileno())
        if digest != expected_sha256.lower():
            raise CliError(
                f"checksum mismatch for {destination.name}: expected SHA-256 "
                f"{expected_sha256}, received {digest}; nothing was saved"
            )
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, destination)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return written


def _copy(
    chunks: Iterable[bytes], handle: BinaryIO, on_progress: Callable[[int], None] | None
) -> tuple[str, int]:
    digest = hashlib.sha256()
    written = 0
    for chunk in chunks:
        handle.write(chunk)
        digest.update(chunk)
        written += len(chunk)
        if on_progress:
            on_progress(written)
    return digest.hexdigest(), written


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def default_destination(name: str) -> Path:
    """A file name from the server made safe to create in the current directory."""
    base = Path(name.replace("\\", "/")).name.strip()
    if base in ("", ".", ".."):
        base = "download"
    return Path(base)
