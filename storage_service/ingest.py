"""Receiving an object's bytes: limits, integrity checks and type sniffing.

Bytes go to a temporary blob while they arrive; a `Received` is returned only once the
size and SHA-256 match what was declared. On any failure the temporary file is removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from storage_service.blobs import BlobStore, BlobWriter, is_sha256
from storage_service.errors import InvalidObject
from storage_service.sniff import HEAD_SIZE, sniff

MAX_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Declared:
    """What the client declared up front; None or '' when it declared nothing."""

    size: int | None = None
    sha256: str = ""


@dataclass(frozen=True)
class IncomingDerivative:
    """A derivative as it arrives: its kind, its bytes (read once, in order) and what
    the client declared about them."""

    kind: str
    chunks: Iterable[bytes]
    declared: Declared = Declared()


@dataclass
class Received:
    """Verified bytes waiting in a temporary blob for the commit."""

    writer: BlobWriter
    sha256: str
    size: int
    content_type: str


def validate_declared(declared: Declared) -> None:
    if declared.size is not None and declared.size < 0:
        raise InvalidObject(f"declared size must not be negative, got {declared.size}")
    if declared.sha256 and not is_sha256(declared.sha256):
        raise InvalidObject("declared sha256 must be 64 lowercase hex characters")


def receive(chunks: Iterable[bytes], *, blobs: BlobStore, declared: Declared) -> Received:
    """Stream `chunks` into a temporary blob and verify them; the caller commits it."""
    validate_declared(declared)
    writer = blobs.writer()
    try:
        head = _copy(chunks, writer, declared)
        _verify(writer, declared)
        writer.seal()
    except BaseException:
        writer.abort()
        raise
    content_type = sniff(head, complete=writer.size <= len(head))
    return Received(writer, writer.sha256, writer.size, content_type)


def _copy(chunks: Iterable[bytes], writer: BlobWriter, declared: Declared) -> bytes:
    """Write every chunk, refusing oversized chunks and overruns; returns the head."""
    head = bytearray()
    for chunk in chunks:
        if len(chunk) > MAX_CHUNK:
            raise InvalidObject(f"chunk of {len(chunk)} bytes exceeds the {MAX_CHUNK} byte limit")
        if declared.size is not None and writer.size + len(chunk) > declared.size:
            raise InvalidObject(
                f"size mismatch: received more than the declared {declared.size} bytes"
            )
        if len(head) < HEAD_SIZE:
            head += chunk[: HEAD_SIZE - len(head)]
        writer.write(chunk)
    return bytes(head)


def _verify(writer: BlobWriter, declared: Declared) -> None:
    if declared.size is not None and writer.size != declared.size:
        raise InvalidObject(
            f"size mismatch: declared {declared.size} bytes, received {writer.size}"
        )
    if declared.sha256 and writer.sha256 != declared.sha256:
        raise InvalidObject(
            f"sha256 mismatch: declared {declared.sha256}, received {writer.sha256}"
        )
