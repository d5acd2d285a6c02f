"""Archives made on the fly for the tests, bombs included, so no binary is committed."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
import zlib

MIB = 1024 * 1024
_ZEROS = bytes(MIB)


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_of_zeros(name: str, mib: int) -> bytes:
    """One entry of `mib` MiB of zeros, a ~200-fold expansion, written in pieces."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open(name, "w", force_zip64=True) as entry,
    ):
        for _ in range(mib):
            entry.write(_ZEROS)
    return buffer.getvalue()


def nested_zip_bomb(layers: int = 3, width: int = 8) -> bytes:
    """42.zip in miniature: zips of zips, each layer `width` copies of the one below."""
    inner = zip_of_zeros("zeros.bin", 80)
    for layer in range(layers):
        inner = zip_of({f"layer{layer}-{index}.zip": inner for index in range(width)})
    return inner


def overlapping_zip_bomb(entries: int = 50, kernel_mib: int = 20) -> bytes:
    """A non-recursive zip bomb: every entry's data is the same compressed kernel.

    Local headers are packed one after another in front of a single kernel, and
    each entry claims the data from its own header to the end of the kernel, so
    the entries' byte ranges overlap (as in David Fifield's construction).
    """
    kernel = _deflate(bytes(kernel_mib * MIB))
    crc = zlib.crc32(bytes(kernel_mib * MIB))
    names = [f"file{index:03d}.bin".encode() for index in range(entries)]
    headers = [_local_header(name, crc, 0, kernel_mib * MIB) for name in names]
    offsets = [sum(len(header) for header in headers[:index]) for index in range(entries)]
    kernel_start = offsets[-1] + len(headers[-1])
    central = b"".join(
        _central_header(
            name, crc, kernel_start + len(kernel) - offset - len(header), kernel_mib * MIB, offset
        )
        for name, header, offset in zip(names, headers, offsets, strict=True)
    )
    body = b"".join(headers) + kernel
    return body + central + _end_record(entries, len(central), len(body))


def tar_of(files: dict[str, bytes], compression: str = "") -> bytes:
    buffer = io.BytesIO()
    mode = f"w:{compression}" if compression else "w"
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        directory = tarfile.TarInfo("docs")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
    return buffer.getvalue()


def gzip_of_zeros(mib: int, name: str = "zeros.bin") -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=name, fileobj=buffer, mode="wb", compresslevel=1) as out:
        for _ in range(mib):
            out.write(_ZEROS)
    return buffer.getvalue()


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _local_header(name: bytes, crc: int, compressed: int, size: int) -> bytes:
    fields = (b"PK\x03\x04", 20, 0, 8, 0, 0, crc, compressed, size, len(name), 0)
    return struct.pack("<4sHHHHHIIIHH", *fields) + name


def _central_header(name: bytes, crc: int, compressed: int, size: int, offset: int) -> bytes:
    fields = (b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, compressed, size, len(name), 0, 0, 0, 0)
    return struct.pack("<4sHHHHHHIIIHHHHHII", *fields, 0, offset) + name


def _end_record(count: int, size: int, offset: int) -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, size, offset, 0)
