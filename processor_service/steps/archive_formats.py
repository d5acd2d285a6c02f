"""Reading the entries of zip, tar (plain, gz, bz2, xz) and lone compressed streams.

Every reader hands each entry to `Limits.add` before it reads any further, so a limit
stops the work as soon as it is broken.
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import struct
import tarfile
import zipfile
import zlib
from typing import BinaryIO, Literal

from processor_service.steps import PermanentError
from processor_service.steps.archive_limits import Entry, Limits, clean_name

CHUNK = 1024 * 1024
_COMPRESSIONS = ((b"\x1f\x8b", "gz"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"))
_STREAM_FORMATS = {"gz": "gzip", "bz2": "bzip2", "xz": "xz"}
_TAR_MODES: dict[str, Literal["r:", "r:gz", "r:bz2", "r:xz"]] = {
    "": "r:",
    "gz": "r:gz",
    "bz2": "r:bz2",
    "xz": "r:xz",
}
# What damaged zip, tar and compressed data make the standard library raise.
_DAMAGE = (
    zipfile.BadZipFile,
    tarfile.TarError,
    OSError,
    EOFError,
    ValueError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
)
_LOCAL_HEADER = struct.Struct("<4s22xHH")
TAR_MAGIC_END = 263


def is_ustar(head: bytes) -> bool:
    """True when the first block is a POSIX or GNU tar header (magic at offset 257)."""
    return head[257:TAR_MAGIC_END] in (b"ustar\x00", b"ustar ")


_LOCAL_SIGNATURE = b"PK\x03\x04"


def zip_entries(stream: BinaryIO, limits: Limits) -> list[Entry]:
    """The zip's entries from its central directory; overlapping entries are a bomb."""
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
        limits.check_count(len(infos))
        _check_no_overlap(stream, infos, limits.archive_size)
    except _DAMAGE as error:
        raise PermanentError("corrupt_archive", f"the zip archive is damaged: {error}") from None
    entries = []
    for info in infos:
        entry = Entry(clean_name(info.filename), info.file_size, info.compress_size, info.is_dir())
        limits.add(entry)
        entries.append(entry)
    return entries


def _check_no_overlap(stream: BinaryIO, infos: list[zipfile.ZipInfo], size: int) -> None:
    spans = sorted(_span(stream, info, size) for info in infos)
    for (_, end, name), (start, _, other) in itertools.pairwise(spans):
        if start < end:
            raise PermanentError(
                "archive_bomb", f"the zip entries {name!r} and {other!r} overlap in the file"
            )


def _span(stream: BinaryIO, info: zipfile.ZipInfo, size: int) -> tuple[int, int, str]:
    """Where an entry's local header and data lie: [start, end) and its name."""
    stream.seek(info.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile(f"entry {info.filename!r} has no local header")
    _, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    start = info.header_offset
    end = start + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
    if end > size:
        raise zipfile.BadZipFile(f"entry {info.filename!r} runs past the end of the file")
    return start, end, clean_name(info.filename)


def tar_entries(stream: BinaryIO, limits: Limits) -> tuple[str, list[Entry]]:
    """A tar's entries (header by header), or a lone compressed stream as one entry."""
    stream.seek(0)
    compression = _compression(stream.read(8))
    stream.seek(0)
    try:
        with tarfile.open(fileobj=stream, mode=_TAR_MODES[compression]) as archive:
            entries = _members(archive, limits, compressed=bool(compression))
    except tarfile.ReadError:
        # Raised by open only: _members turns damage further in into corrupt_archive.
        if compression:
            return _STREAM_FORMATS[compression], [_lone_stream(stream, compression, limits)]
        raise PermanentError("not_an_archive", "the file is not a zip or tar archive") from None
    except _DAMAGE as error:
        raise PermanentError("corrupt_archive", f"the archive is damaged: {error}") from None
    if compression and not entries:
        # Data starting with a zero block reads as an empty tar; it is a lone file.
        return _STREAM_FORMATS[compression], [_lone_stream(stream, compression, limits)]
    return "tar" + (f".{compression}" if compression else ""), entries


def _members(archive: tarfile.TarFile, limits: Limits, *, compressed: bool) -> list[Entry]:
    entries = []
    try:
        for member in archive:
            stored = None if compressed else member.size
            entry = Entry(clean_name(member.name), member.size, stored, member.isdir())
            limits.add(entry)
            entries.append(entry)
    except _DAMAGE as error:
        raise PermanentError("corrupt_archive", f"the tar archive is damaged: {error}") from None
    return entries


def _lone_stream(stream: BinaryIO, compression: str, limits: Limits) -> Entry:
    """A compressed file that is not a tar: its size is counted, never kept."""
    cap = limits.expansion_cap()
    size = 0
    stream.seek(0)
    try:
        with _expanded(stream, compression) as expanded:
            while size <= cap and (chunk := expanded.read(min(CHUNK, cap + 1 - size))):
                size += len(chunk)
    except _DAMAGE as error:
        raise PermanentError(
            "corrupt_archive", f"the compressed data is damaged: {error}"
        ) from None
    stream.seek(0)
    name = _gzip_name(stream.read(64 * 1024)) if compression == "gz" else ""
    entry = Entry(name, size, limits.archive_size, is_dir=False)
    limits.add(entry)
    return entry


def _expanded(stream: BinaryIO, compression: str) -> BinaryIO:
    if compression == "gz":
        return gzip.GzipFile(fileobj=stream)  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.BZ2File(stream)  # type: ignore[return-value]
    return lzma.LZMAFile(stream)  # type: ignore[return-value]


def _compression(head: bytes) -> str:
    for magic, name in _COMPRESSIONS:
        if head.startswith(magic):
            return name
    return ""


def _gzip_name(head: bytes) -> str:
    """The original file name a gzip header may carry (FNAME), else ""."""
    if len(head) < 10:
        return ""
    flags, position = head[3], 10
    if flags & 0x04:  # FEXTRA: a length, then that many bytes
        position += 2 + int.from_bytes(head[10:12], "little")
    if not flags & 0x08 or b"\x00" not in head[position:]:
        return ""
    return clean_name(head[position : head.index(b"\x00", position)].decode("latin-1"))
