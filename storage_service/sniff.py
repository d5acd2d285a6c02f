"""The type of an object as its bytes say, never as its name or a client claims."""

from __future__ import annotations

import codecs

import filetype

HEAD_SIZE = 8192
EMPTY = "application/x-empty"
TEXT = "text/plain"
BINARY = "application/octet-stream"
# Control characters that plain text does use; any other C0 byte means binary.
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\b\x1b")
# Byte-order marks of the encodings whose text is full of NUL bytes (UTF-32 first: its
# little-endian mark begins with UTF-16's).
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def sniff(head: bytes, *, complete: bool) -> str:
    """Sniff a MIME type from the first bytes of an object.

    `complete` is True when `head` is the whole object, so a multi-byte character cut
    at the end of `head` is not mistaken for invalid UTF-8.
    """
    if not head:
        return EMPTY
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    return TEXT if _looks_like_text(head, complete=complete) else BINARY


def _looks_like_text(head: bytes, *, complete: bool) -> bool:
    """UTF-16/32 with a byte-order mark, or bytes without the control characters text
    never has: UTF-8, but also Latin-1, Windows-1252 or Shift_JIS, which are not UTF-8."""
    for bom, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            return _decodes(head, encoding, complete=complete)
    return not any(byte < 0x20 and byte not in _TEXT_CONTROLS for byte in head)


def _decodes(head: bytes, encoding: str, *, complete: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return True
