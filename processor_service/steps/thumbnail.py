"""The "image.thumbnail" step: a small, upright, metadata-free copy of an image.

The pixel count is checked from the header before decoding; JPEGs are decoded at a
reduced scale (draft mode) when the thumbnail is much smaller; EXIF orientation is
applied and no EXIF is written out.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from PIL import Image, ImageOps

from processor_service.steps import (
    DerivativeOutput,
    PermanentError,
    StepInput,
    StepOptions,
    StepResult,
)
from processor_service.steps.imaging import load_pixels, open_image

CONTENT_TYPES = {"WEBP": "image/webp", "JPEG": "image/jpeg"}
QUALITY = {"WEBP": 80, "JPEG": 85}


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    size = options.thumbnail_size
    with open_image(stream, max_pixels=options.max_pixels) as image:
        thumbnail = make_thumbnail(image, size=size, output_format=options.thumbnail_format)
    data = encode(thumbnail, output_format=options.thumbnail_format)
    width, height = thumbnail.size
    derivative = DerivativeOutput(
        kind=f"thumbnail-{size}",
        content_type=CONTENT_TYPES[options.thumbnail_format],
        data=data,
    )
    metadata = {"thumbnail": {"width": width, "height": height}}
    return StepResult(metadata=metadata, derivatives=[derivative])


def make_thumbnail(image: Image.Image, *, size: int, output_format: str) -> Image.Image:
    """Decode, turn upright and shrink so the longest side is at most `size`."""
    if image.format == "JPEG":
        image.draft("RGB", (size, size))
    load_pixels(image)
    upright = ImageOps.exif_transpose(image) or image
    converted = _convert(upright, output_format)
    converted.thumbnail((size, size), Image.Resampling.LANCZOS)
    return converted


def encode(image: Image.Image, *, output_format: str) -> bytes:
    """Encode without EXIF; only the colour profile is kept."""
    buffer = io.BytesIO()
    image.save(
        buffer,
        format=output_format,
        quality=QUALITY[output_format],
        exif=b"",
        icc_profile=image.info.get("icc_profile"),
    )
    return buffer.getvalue()


def _convert(image: Image.Image, output_format: str) -> Image.Image:
    mode = "RGBA" if output_format == "WEBP" and _has_alpha(image) else "RGB"
    try:
        return image.convert(mode)
    except ValueError as error:
        raise PermanentError(
            "unsupported_image", f"images in mode {image.mode} cannot be thumbnailed: {error}"
        ) from None


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
