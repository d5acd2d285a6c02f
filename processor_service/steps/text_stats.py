"""The "text.stats" step: encoding, line, word and character counts, and a preview.

The encoding comes from a byte-order mark when there is one, else from the first
`text_detect_bytes` (UTF-8 when they are valid UTF-8, charset-normalizer otherwise).
The whole stream is then decoded in chunks, so memory stays flat whatever its size.
Bytes the detected encoding cannot decode count as U+FFFD replacement characters.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any, BinaryIO

import charset_normalizer

from processor_service.steps import (
    PermanentError,
    StepInput,
    StepOptions,
    StepResult,
    read_chunks,
)

LIMITS = ("text_detect_bytes", "text_preview_chars")
CHUNK = 64 * 1024
# Longest BOMs first: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Encoding:
    name: str
    bom: bool


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    stream.seek(0)
    head = stream.read(options.text_detect_bytes)
    encoding = detect(head, complete=len(head) < options.text_detect_bytes)
    stream.seek(0)
    counter = Counter(options.text_preview_chars)
    decoder = codecs.getincrementaldecoder(encoding.name)(errors="replace")
    for chunk in read_chunks(stream, CHUNK):
        counter.add(decoder.decode(chunk))
    counter.add(decoder.decode(b"", final=True))
    name = "utf-8" if encoding.name == "utf-8-sig" else codecs.lookup(encoding.name).name
    return StepResult(metadata={"encoding": name, "bom": encoding.bom, **counter.summary()})


def detect(head: bytes, *, complete: bool) -> Encoding:
    """The encoding of a text whose first bytes are `head` (all of it when `complete`)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return Encoding(name, bom=True)
    if _is_utf8(head, complete=complete):
        return Encoding("utf-8", bom=False)
    best = charset_normalizer.from_bytes(head).best()
    if best is None:
        raise PermanentError("not_text", "the file is not text in any encoding we recognise")
    return Encoding(codecs.lookup(best.encoding).name, bom=False)


def _is_utf8(head: bytes, *, complete: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head


class Counter:
    """Lines, words and characters of a text that arrives in pieces."""

    def __init__(self, preview_chars: int) -> None:
        self._preview_chars = preview_chars
        self._preview: list[str] = []
        self._preview_length = 0
        self.characters = 0
        self.newlines = 0
        self.words = 0
        self._in_word = False
        self._last = ""

    def add(self, text: str) -> None:
        if not text:
            return
        self.characters += len(text)
        self.newlines += text.count("\n")
        self.words += len(text.split())
        if self._in_word and not text[0].isspace():
            self.words -= 1  # the word the previous piece ended in goes on here
        self._in_word = not text[-1].isspace()
        self._last = text[-1]
        self._keep_preview(text)

    def _keep_preview(self, text: str) -> None:
        room = self._preview_chars - self._preview_length
        if room > 0:
            self._preview.append(text[:room])
            self._preview_length += min(room, len(text))

    def summary(self) -> dict[str, Any]:
        unterminated = 1 if self.characters and self._last != "\n" else 0
        return {
            "lines": self.newlines + unterminated,
            "words": self.words,
            "characters": self.characters,
            "preview": "".join(self._preview),
        }
