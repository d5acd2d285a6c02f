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
    if any(byte < 0x20 and byte not in _TEXT_CONTROLS for byte in head):
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return True
