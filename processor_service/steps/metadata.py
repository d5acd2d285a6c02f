"""The "metadata" step: size and type for every file; image details for images.

Kept for the pipelines that name it. A file that is not an image, or whose image
header cannot be read, still gets its size and type: describing a file never fails
because of what the file contains.
"""

from __future__ import annotations

import contextlib
from typing import Any, BinaryIO

from processor_service.steps import PermanentError, StepInput, StepOptions, StepResult
from processor_service.steps.image_metadata import run as describe_image


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    metadata: dict[str, Any] = {"size": source.size, "content_type": source.content_type}
    with contextlib.suppress(PermanentError):
        metadata.update(describe_image(stream, source, options).metadata)
    return StepResult(metadata=metadata)
