from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageFile

from processor_service.steps import PermanentError, StepOptions, StepResult, thumbnail
from processor_service.tests.images import (
    encoded,
    halves,
    jpeg_with_exif,
    png,
    png_header_only,
    step_input,
)


def run(data: bytes, content_type: str = "image/png", **options: Any) -> StepResult:
    return thumbnail.run(io.BytesIO(data), step_input(data, content_type), StepOptions(**options))


def rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    red, green, blue = image.convert("RGB").getpixel(xy)  # type: ignore[misc]
    return red, green, blue


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_thumbnail_is_webp_with_longest_side_256_and_the_same_aspect_ratio() -> None:
    result = run(png(1024, 512))

    [derivative] = result.derivatives
    assert (derivative.kind, derivative.content_type) == ("thumbnail-256", "image/webp")
    image = decode(derivative.data)
    assert (image.format, image.size) == ("WEBP", (256, 128))
    assert result.metadata == {"thumbnail": {"width": 256, "height": 128}}


def test_portrait_image_gets_its_height_reduced_to_the_thumbnail_size() -> None:
    result = run(png(300, 900))

    assert decode(result.derivatives[0].data).size == (85, 256)


def test_exif_orientation_6_turns_a_landscape_image_into_an_upright_portrait() -> None:
    data = jpeg_with_exif(halves(200, 100), orientation=6)

    image = decode(run(data, "image/jpeg").derivatives[0].data).convert("RGB")

    assert image.size == (100, 200)
    # Orientation 6 means "turn 90 degrees clockwise": the left (red) half ends on top.
    red, _, blue = rgb_at(image, (50, 20))
    assert red > 200 and blue < 60
    red, _, blue = rgb_at(image, (50, 180))
    assert red < 60 and blue > 200


def test_thumbnail_carries_no_exif_from_the_original() -> None:
    data = jpeg_with_exif(halves(800, 600))

    image = decode(run(data, "image/jpeg").derivatives[0].data)

    assert dict(image.getexif()) == {}
    assert "exif" not in image.info


def test_jpeg_output_is_produced_when_configured() -> None:
    data = jpeg_with_exif(halves(1200, 900))

    [derivative] = run(data, "image/jpeg", thumbnail_format="JPEG").derivatives

    assert derivative.content_type == "image/jpeg"
    image = decode(derivative.data)
    assert (image.format, image.size) == ("JPEG", (256, 192))
    assert dict(image.getexif()) == {}


def test_thumbnail_size_comes_from_the_options_and_names_the_derivative() -> None:
    [derivative] = run(png(1000, 1000), thumbnail_size=64).derivatives

    assert derivative.kind == "thumbnail-64"
    assert decode(derivative.data).size == (64, 64)


def test_small_image_is_not_enlarged() -> None:
    assert decode(run(png(40, 30)).derivatives[0].data).size == (40, 30)


def test_transparency_survives_in_a_webp_thumbnail() -> None:
    image = decode(run(png(512, 512, (10, 20, 30, 0))).derivatives[0].data)

    assert image.mode == "RGBA"
    assert image.getchannel("A").getextrema() == (0, 0)


@pytest.fixture
def decoding_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.usefixtures("decoding_forbidden")
def test_header_claiming_20000x20000_pixels_is_refused_before_decoding() -> None:
    data = png_header_only(20_000, 20_000)
    assert len(data) < 200

    with pytest.raises(PermanentError) as caught:
        run(data)

    assert caught.value.code == "image_too_large"


@pytest.mark.usefixtures("decoding_forbidden")
def test_image_over_the_configured_pixel_limit_is_refused_before_decoding() -> None:
    with pytest.raises(PermanentError) as caught:
        run(png_header_only(3000, 2000), max_pixels=1_000_000)

    assert caught.value.code == "image_too_large"
    assert "3000x2000" in caught.value.message


def test_image_at_the_pixel_limit_is_accepted() -> None:
    result = run(png(1000, 1000), max_pixels=1_000_000)

    assert result.derivatives[0].kind == "thumbnail-256"


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_truncated_image_is_a_permanent_corrupt_image_error(image_format: str) -> None:
    data = encoded(halves(600, 400).effect_spread(20), image_format)

    with pytest.raises(PermanentError) as caught:
        run(data[: len(data) // 2])

    assert caught.value.code == "corrupt_image"


def test_text_file_is_refused_as_not_an_image() -> None:
    with pytest.raises(PermanentError) as caught:
        run(b"just some words\n" * 20, "text/plain")

    assert caught.value.code == "not_an_image"
    assert caught.value.message == "the file is not an image Pillow can read"
