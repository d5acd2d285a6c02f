"""The "image.thumbnail" step: small, upright, metadata-free copies of an image.

One derivative per configured size ("thumbnail-256", "thumbnail-1024"), each with its
longest side at most that size and never larger than the original. The pixel count is
checked from the header before decoding; a JPEG is decoded at a reduced scale (draft
mode) when the largest thumbnail is much smaller; EXIF orientation is applied and no
EXIF is written out. SVG is refused: it is never rasterized, so no script in it runs.
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
from processor_service.steps.imaging import is_svg, load_pixels, open_image

LIMITS = ("max_pixels", "thumbnail_sizes")
OUTPUTS = ("thumbnail_format",)
CONTENT_TYPES = {"WEBP": "image/webp", "JPEG": "image/jpeg"}
QUALITY = {"WEBP": 80, "JPEG": 85}


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    if is_svg(stream, source):
        raise PermanentError("unsupported_image", "SVG is not rasterized")
    output_format = options.thumbnail_format
    sizes = sorted(options.thumbnail_sizes, reverse=True)
    with open_image(stream, max_pixels=options.max_pixels) as image:
        upright = decode_upright(image, largest=sizes[0], output_format=output_format)
    derivatives: list[DerivativeOutput] = []
    dimensions: dict[str, dict[str, int]] = {}
    for size in sizes:
        upright = shrink(upright, size)
        kind = f"thumbnail-{size}"
        data = encode(upright, output_format=output_format)
        derivatives.append(DerivativeOutput(kind, CONTENT_TYPES[output_format], data))
        dimensions[kind] = {"width": upright.width, "height": upright.height}
    derivatives.reverse()
    return StepResult(metadata={"thumbnails": dimensions}, derivatives=derivatives)


def decode_upright(image: Image.Image, *, largest: int, output_format: str) -> Image.Image:
    """Decode (JPEG at the smallest scale still >= `largest`), turn upright, convert."""
    if image.format == "JPEG":
        image.draft("RGB", (largest, largest))
    load_pixels(image)
    upright = ImageOps.exif_transpose(image) or image
    return _convert(upright, output_format)


def shrink(image: Image.Image, size: int) -> Image.Image:
    """A copy whose longest side is at most `size`; a smaller image is not enlarged."""
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    return copy


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
