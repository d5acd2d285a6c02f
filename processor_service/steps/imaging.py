"""Opening untrusted images with Pillow: identify from the header, refuse bombs early.

`Image.open` reads only the header, so the pixel count is known before any pixel data
is decoded; a file whose header claims too many pixels is refused right there.
"""

from __future__ import annotations

from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from processor_service.steps import PermanentError

# What Pillow raises on truncated or malformed pixel data.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)


def open_image(stream: BinaryIO, *, max_pixels: int) -> Image.Image:
    """Open an image lazily (header only) and refuse it when it has too many pixels."""
    stream.seek(0)
    try:
        image = Image.open(stream)
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
