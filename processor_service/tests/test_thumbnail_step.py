from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageFile, JpegImagePlugin

from processor_service.steps import PermanentError, StepOptions, StepResult, thumbnail
from processor_service.tests.images import (
    SVG_WITH_SCRIPT,
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


def test_thumbnails_are_webp_at_each_configured_size_with_the_same_aspect_ratio() -> None:
    result = run(png(2048, 1024))

    assert [(d.kind, d.content_type) for d in result.derivatives] == [
        ("thumbnail-256", "image/webp"),
        ("thumbnail-1024", "image/webp"),
    ]
    assert [(decode(d.data).format, decode(d.data).size) for d in result.derivatives] == [
        ("WEBP", (256, 128)),
        ("WEBP", (1024, 512)),
    ]
    assert result.metadata == {
        "thumbnails": {
            "thumbnail-256": {"width": 256, "height": 128},
            "thumbnail-1024": {"width": 1024, "height": 512},
        }
    }


def test_portrait_image_gets_its_height_reduced_to_the_thumbnail_size() -> None:
    result = run(png(300, 900), thumbnail_sizes=(256,))

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


def test_thumbnails_carry_no_exif_and_no_gps_from_the_original() -> None:
    data = jpeg_with_exif(halves(1600, 1200), gps=True)
    assert decode(data).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the original has GPS

    derivatives = run(data, "image/jpeg").derivatives

    assert len(derivatives) == 2
    for derivative in derivatives:
        image = decode(derivative.data)
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
        assert b"Exif" not in derivative.data
        assert b"TestCam" not in derivative.data


def test_jpeg_output_is_produced_when_configured() -> None:
    data = jpeg_with_exif(halves(1200, 900))

    derivatives = run(data, "image/jpeg", thumbnail_format="JPEG").derivatives

    assert [d.content_type for d in derivatives] == ["image/jpeg", "image/jpeg"]
    images = [decode(d.data) for d in derivatives]
    assert [(i.format, i.size) for i in images] == [("JPEG", (256, 192)), ("JPEG", (1024, 768))]
    assert all(dict(image.getexif()) == {} for image in images)


def test_thumbnail_sizes_come_from_the_options_and_name_the_derivatives() -> None:
    derivatives = run(png(1000, 1000), thumbnail_sizes=(64, 500)).derivatives

    assert [(d.kind, decode(d.data).size) for d in derivatives] == [
        ("thumbnail-64", (64, 64)),
        ("thumbnail-500", (500, 500)),
    ]


def test_small_image_is_never_enlarged() -> None:
    derivatives = run(png(40, 30)).derivatives

    assert [(d.kind, decode(d.data).size) for d in derivatives] == [
        ("thumbnail-256", (40, 30)),
        ("thumbnail-1024", (40, 30)),
    ]


def test_image_between_the_sizes_keeps_its_size_in_the_larger_thumbnail() -> None:
    derivatives = run(png(600, 300)).derivatives

    assert [decode(d.data).size for d in derivatives] == [(256, 128), (600, 300)]


def test_large_jpeg_is_decoded_at_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded_sizes: list[tuple[int, int]] = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, *args: Any, **kwargs: Any) -> Any:
        chosen = draft(self, *args, **kwargs)
        decoded_sizes.append(self.size)
        return chosen

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)

    derivatives = run(encoded(halves(4096, 3072), "JPEG"), "image/jpeg").derivatives

    # Draft mode decodes at 1/2 here: the smallest scale still covering 1024 pixels.
    assert decoded_sizes == [(2048, 1536)]
    assert [decode(d.data).size for d in derivatives] == [(256, 192), (1024, 768)]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (SVG_WITH_SCRIPT, "image/svg+xml"),
        (SVG_WITH_SCRIPT, "text/plain"),
        (b"\xef\xbb\xbf  " + SVG_WITH_SCRIPT, "application/octet-stream"),
    ],
)
def test_svg_is_refused_and_never_rasterized(data: bytes, content_type: str) -> None:
    with pytest.raises(PermanentError) as caught:
        run(data, content_type)

    assert (caught.value.code, caught.value.message) == (
        "unsupported_image",
        "SVG is not rasterized",
    )


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
