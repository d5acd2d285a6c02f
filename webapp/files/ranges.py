"""HTTP byte ranges and entity-tag preconditions (RFC 9110, sections 13 and 14).

Pure functions over header values: the download view decides with them whether to
answer 304, 206, 416 or the whole representation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE_SPEC = re.compile(r"^([0-9]*)-([0-9]*)$")
# Every size fits in 19 digits; a longer position lies past any end (and int() refuses
# strings of more than 4,300 digits).
_POSITION_DIGITS = 19
_ENTITY_TAG = re.compile(r'\s*(?:W/)?("[^"]*")\s*(?:,|$)')


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end`, both included, of a representation of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class RangeNotSatisfiable(ValueError):
    """The range starts past the end (or asks for the last zero bytes)."""


def range_parse(header: str | None, size: int) -> ByteRange | None:
    """The single byte range a Range header asks for.

    None means: send the whole representation (no header, another unit, a malformed
    header, or several ranges, which a server may answer in full). Raises
    RangeNotSatisfiable when the one range asked for has no byte in the content.
    """
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    parts = [part.strip() for part in specs.split(",") if part.strip()]
    if len(parts) != 1:
        return None
    match = _RANGE_SPEC.match(parts[0])
    if match is None or match.group(0) == "-":
        return None
    first, last = match.groups()
    if not first:
        return _suffix_range(_position(last), size)
    return _bounded_range(_position(first), _position(last) if last else None, size)


def _position(digits: str) -> int:
    significant = digits.lstrip("0") or "0"
    if len(significant) > _POSITION_DIGITS:
        return 10**_POSITION_DIGITS
    return int(significant)


def _suffix_range(length: int, size: int) -> ByteRange:
    if length == 0 or size == 0:
        raise RangeNotSatisfiable(f"the last {length} bytes of {size}")
    return ByteRange(max(0, size - length), size - 1, size)


def _bounded_range(first: int, last: int | None, size: int) -> ByteRange | None:
    if last is not None and last < first:
        return None  # invalid: the header is ignored
    if first >= size:
        raise RangeNotSatisfiable(f"bytes from {first} of {size}")
    end = size - 1 if last is None else min(last, size - 1)
    return ByteRange(first, end, size)


def entity_tags(header: str) -> list[str]:
    """The quoted tags of an If-None-Match / If-Range value, weak marks dropped."""
    tags: list[str] = []
    position = 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            break
        tags.append(match.group(1))
        position = match.end()
    return tags


def none_match(header: str | None, etag: str) -> bool:
    """Whether If-None-Match names this representation ("*" or its tag, compared weakly):
    then a GET or HEAD answers 304."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return etag in entity_tags(header)


def if_range_allows(header: str | None, etag: str) -> bool:
    """Whether a Range may apply under If-Range: absent, or naming exactly this strong
    tag. A date or another tag means the client's part is stale: send everything."""
    if header is None:
        return True
    value = header.strip()
    return not value.startswith("W/") and value == etag
