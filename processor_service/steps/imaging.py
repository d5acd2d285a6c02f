"""Opening untrusted images with Pillow: identify from the header, refuse bombs early.

`Image.open` reads only the header, so the pixel count is known before any pixel data
is decoded; a file whose header claims too many pixels is refused right there. Only
the formats below are tried: Pillow's other readers include EPS, which runs
Ghostscript, and rarely used formats nobody uploads on purpose.
"""

from __future__ import annotations

import codecs
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from processor_service.steps import PermanentError, StepInput, base_type

FORMATS = (
    "JPEG",
    "PNG",
    "GIF",
    "WEBP",
    "TIFF",
    "BMP",
    "ICO",
    "AVIF",
    "JPEG2000",
    "PPM",
    "TGA",
    "PSD",
)
# What Pillow raises on truncated or malformed pixel data.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)
SVG_SNIFF_BYTES = 4096
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# Pillow's own bomb guard is global and refuses even to read the header of a large
# image; the steps enforce their configured pixel limit before every decode instead,
# so that limit is the one that counts and a header can always be described.
Image.MAX_IMAGE_PIXELS = None


def open_image(stream: BinaryIO, *, max_pixels: int) -> Image.Image:
    """Open an image lazily (header only) and refuse it when it has too many pixels."""
    stream.seek(0)
    try:
        image = Image.open(stream, formats=FORMATS)
    except UnidentifiedImageError:
        raise PermanentError("not_an_image", "the file is not an image Pillow can read") from None
    except Image.DecompressionBombError as error:
        raise PermanentError("image_too_large", str(error)) from None
    except DECODE_ERRORS as error:
        raise PermanentError("corrupt_image", f"the image header is damaged: {error}") from None
    check_pixels(image, max_pixels=max_pixels)
    return image


def check_pixels(image: Image.Image, *, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise PermanentError(
            "image_too_large",
            f"the image is {width}x{height} pixels, more than the {max_pixels} allowed",
        )


def load_pixels(image: Image.Image) -> None:
    """Decode the pixel data; truncated or damaged data is a permanent error."""
    try:
        image.load()
    except DECODE_ERRORS as error:
        raise PermanentError(
            "corrupt_image", f"the image data is truncated or damaged: {error}"
        ) from None


def is_svg(stream: BinaryIO, source: StepInput) -> bool:
    """True for SVG, whether storage sniffed it as such or as text (it often does)."""
    if base_type(source.content_type) == "image/svg+xml":
        return True
    stream.seek(0)
    head = stream.read(SVG_SNIFF_BYTES)
    stream.seek(0)
    return looks_like_svg(head)


def looks_like_svg(head: bytes) -> bool:
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
    # UTF-16 SVG: dropping the zero bytes leaves the ASCII markup readable.
    text = head.replace(b"\x00", b"").lstrip().lower()
    return text.startswith(b"<") and b"<svg" in text
