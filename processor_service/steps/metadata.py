"""The "metadata" step: size and type for every file; dimensions and EXIF for images.

A file that is not an image, or whose image header cannot be read, still gets its size
and type: describing a file never fails because of what the file contains.
"""

from __future__ import annotations

import logging
from typing import Any, BinaryIO

from PIL import Image

from processor_service.steps import PermanentError, StepInput, StepOptions, StepResult
from processor_service.steps.exif import exif_dict
from processor_service.steps.imaging import open_image

logger = logging.getLogger(__name__)

# Only the header is read here, so no pixel limit applies: nothing is decoded.
_NO_LIMIT = 2**62


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    metadata: dict[str, Any] = {"size": source.size, "content_type": source.content_type}
    image = _try_open(stream)
    if image is not None:
        with image:
            metadata.update(_image_metadata(image))
    return StepResult(metadata=metadata)


def _try_open(stream: BinaryIO) -> Image.Image | None:
    try:
        return open_image(stream, max_pixels=_NO_LIMIT)
    except PermanentError:
        return None


def _image_metadata(image: Image.Image) -> dict[str, Any]:
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
