from __future__ import annotations

import io
import json

from PIL import Image

from processor_service.steps import StepOptions, StepResult, metadata
from processor_service.steps.exif import json_safe
from processor_service.tests.images import (
    encoded,
    halves,
    jpeg_with_exif,
    png_header_only,
    step_input,
)


def run(data: bytes, content_type: str) -> StepResult:
    return metadata.run(io.BytesIO(data), step_input(data, content_type), StepOptions())


def test_image_metadata_has_format_dimensions_mode_and_named_exif() -> None:
    data = jpeg_with_exif(halves(320, 240), orientation=6)

    result = run(data, "image/jpeg")

    assert result.metadata == {
        "size": len(data),
        "content_type": "image/jpeg",
        "format": "JPEG",
        "width": 320,
        "height": 240,
        "mode": "RGB",
        "exif": {
            "Make": "TestCam",
            "Model": "Model 1",
            "Orientation": 6,
            "DateTimeOriginal": "2024:01:02 03:04:05",
            "ExposureTime": 0.004,
        },
    }
    assert result.derivatives == []


def test_image_metadata_is_json_serialisable() -> None:
    result = run(jpeg_with_exif(halves(64, 64)), "image/jpeg")

    assert json.loads(json.dumps(result.metadata)) == result.metadata


def test_image_without_exif_has_an_empty_exif_dictionary() -> None:
    data = encoded(Image.new("L", (30, 20)), "PNG")

    assert run(data, "image/png").metadata == {
        "size": len(data),
        "content_type": "image/png",
        "format": "PNG",
        "width": 30,
        "height": 20,
        "mode": "L",
        "exif": {},
    }


def test_huge_image_is_described_from_its_header_alone() -> None:
    data = png_header_only(30_000, 1_000)

    described = run(data, "image/png").metadata

    assert (described["width"], described["height"]) == (30_000, 1_000)


def test_non_image_gets_size_and_type_only() -> None:
    data = b"%PDF-1.7 not really\n"

    assert run(data, "application/pdf").metadata == {
        "size": len(data),
        "content_type": "application/pdf",
    }


def test_exif_values_become_json_safe() -> None:
    assert json_safe(b"\x01\xff") == "01ff"
    assert json_safe(b"x" * 1000) is None
    assert json_safe("Canon\x00\x00") == "Canon"
    assert json_safe((1, 2, b"\x00")) == [1, 2, "00"]
    assert json_safe(float("nan")) is None
    assert json_safe(object()) is None
