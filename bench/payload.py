"""Bytes to upload, made up as they are sent: incompressible, different for every upload
(so deduplication never shortcuts one), and never held whole in memory."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

HEADER = struct.Struct(">QQ")  # (seed, block index): makes every block unique


class Payload:
    """`size` bytes in blocks of `block` bytes: random bytes drawn once, each block
    stamped with the payload's seed and its index."""

    _random: bytes = b""

    def __init__(self, size: int, *, block: int, seed: int) -> None:
        if block <= HEADER.size:
            raise ValueError(f"blocks must be larger than {HEADER.size} bytes")
        self.size = size
        self.block = block
        self.seed = seed
        if len(Payload._random) < block:
            Payload._random = os.urandom(block)

    def blocks(self) -> Iterator[bytes]:
        sent = 0
        index = 0
        while sent < self.size:
            length = min(self.block, self.size - sent)
            stamped = HEADER.pack(self.seed, index) + Payload._random[HEADER.size : self.block]
            yield stamped[:length]
            sent += length
            index += 1

    def stream(self) -> PayloadStream:
        return PayloadStream(self)


class PayloadStream:
    """The payload as a file-like object; `len()` is what is left to read (the way
    requests-toolbelt's MultipartEncoder measures a part)."""

    def __init__(self, payload: Payload) -> None:
        self._blocks = payload.blocks()
        self._current = memoryview(b"")
        self._left = payload.size

    def __len__(self) -> int:
        return self._left

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self._left
        parts: list[bytes] = []
        wanted = min(size, self._left)
        while wanted > 0:
            if not self._current:
                self._current = memoryview(next(self._blocks))
            part = self._current[:wanted]
            self._current = self._current[len(part) :]
            parts.append(part.tobytes())
            wanted -= len(part)
        data = b"".join(parts)
        self._left -= len(data)
        return data
