"""The "image.metadata" step: format, dimensions, mode and EXIF, from the header only.

No pixel data is decoded, so even an image too large to thumbnail is described. GPS
tags stay in the result under exif.gps; who may see them is the webapp's decision.
SVG is identified but never parsed.
"""

from __future__ import annotations

import logging
from typing import Any, BinaryIO

from PIL import Image

from processor_service.steps import StepInput, StepOptions, StepResult
from processor_service.steps.exif import exif_dict
from processor_service.steps.imaging import is_svg, open_image

logger = logging.getLogger(__name__)

# Only the header is read here, so no pixel limit applies: nothing is decoded.
NO_PIXEL_LIMIT = 2**62


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    if is_svg(stream, source):
        return StepResult(metadata={"format": "SVG"})
    with open_image(stream, max_pixels=NO_PIXEL_LIMIT) as image:
        return StepResult(metadata=describe(image))


def describe(image: Image.Image) -> dict[str, Any]:
    """What the header says about `image`; unreadable EXIF becomes an empty dict."""
    width, height = image.size
    described: dict[str, Any] = {
        "format": image.format or "",
        "width": width,
        "height": height,
        "mode": image.mode,
    }
    try:
        described["exif"] = exif_dict(image)
    except Exception:
        # Damaged EXIF makes Pillow raise many kinds of errors; the rest still stands.
        logger.info("unreadable EXIF ignored", exc_info=True)
        described["exif"] = {}
    return described
