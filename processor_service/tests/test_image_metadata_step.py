from __future__ import annotations

import io

import pytest
from PIL import ImageFile

from processor_service.steps import PermanentError, StepOptions, StepResult, image_metadata
from processor_service.tests.images import (
    SVG_WITH_SCRIPT,
    halves,
    jpeg_with_exif,
    png,
    png_header_only,
    step_input,
)


def run(data: bytes, content_type: str) -> StepResult:
    return image_metadata.run(io.BytesIO(data), step_input(data, content_type), StepOptions())


@pytest.fixture
def decoding_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_jpeg_is_described_with_exif_and_gps_kept_under_exif_gps() -> None:
    data = jpeg_with_exif(halves(320, 240), orientation=6, gps=True)

    assert run(data, "image/jpeg").metadata == {
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
            "gps": {
                "GPSLatitudeRef": "N",
                "GPSLatitude": [52.0, 22.0, 12.0],
                "GPSLongitudeRef": "E",
                "GPSLongitude": [4.0, 53.0, 30.0],
            },
        },
    }


@pytest.mark.usefixtures("decoding_forbidden")
def test_a_40000_pixel_square_png_is_described_without_decoding_it() -> None:
    described = run(png_header_only(40_000, 40_000), "image/png").metadata

    assert (described["format"], described["width"], described["height"]) == (
        "PNG",
        40_000,
        40_000,
    )


def test_a_lying_content_type_does_not_change_what_the_bytes_are() -> None:
    assert run(png(10, 20), "image/jpeg").metadata["format"] == "PNG"


def test_svg_is_named_but_never_parsed() -> None:
    assert run(SVG_WITH_SCRIPT, "text/plain").metadata == {"format": "SVG"}


@pytest.mark.parametrize(
    "data",
    [
        b"just words\n",
        b"\x89PNG\r\n\x1a\n<html><body><script>alert(1)</script></body></html>",
    ],
    ids=["text", "png-signature-then-html"],
)
def test_data_that_is_no_image_is_a_permanent_not_an_image_error(data: bytes) -> None:
    with pytest.raises(PermanentError) as caught:
        run(data, "image/png")

    assert caught.value.code == "not_an_image"
