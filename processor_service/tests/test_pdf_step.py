from __future__ import annotations

import io
import time
from typing import Any

import pytest
from PIL import Image

from processor_service.steps import PermanentError, StepOptions, StepResult, pdf_preview
from processor_service.tests.images import png, step_input
from processor_service.tests.pdfs import pdf_with_pages


def run(data: bytes, **options: Any) -> StepResult:
    return pdf_preview.run(
        io.BytesIO(data), step_input(data, "application/pdf"), StepOptions(**options)
    )


def test_pdf_gets_page_count_info_text_and_a_webp_preview_of_the_first_page() -> None:
    result = run(pdf_with_pages(3, title="Quarterly report"))

    assert result.metadata == {
        "pages": 3,
        "pdf_version": "1.4",
        "info": {"Title": "Quarterly report", "Author": "USP tests"},
        "text": "Page 1\nPage 2\nPage 3",
        "text_pages": 3,
        "preview": {"width": 792, "height": 1024},
    }
    [preview] = result.derivatives
    assert (preview.kind, preview.content_type) == ("preview-1024", "image/webp")
    with Image.open(io.BytesIO(preview.data)) as image:
        assert (image.format, image.size) == ("WEBP", (792, 1024))
        # Black text was drawn on the white page.
        assert image.convert("L").getextrema() == (0, 255)


def test_pdf_with_thousands_of_pages_reports_them_all_and_reads_only_the_first() -> None:
    data = pdf_with_pages(3000)
    started = time.monotonic()

    metadata = run(data).metadata

    assert time.monotonic() - started < 5
    assert (metadata["pages"], metadata["text_pages"]) == (3000, 10)
    assert metadata["text"].split("\n") == [f"Page {number}" for number in range(1, 11)]


def test_text_stops_at_the_character_limit() -> None:
    metadata = run(pdf_with_pages(5), pdf_text_chars=10).metadata

    assert (metadata["text"], metadata["text_pages"]) == ("Page 1\nPag", 2)


def test_preview_respects_the_pixel_limit() -> None:
    result = run(pdf_with_pages(1), max_pixels=10_000)

    width, height = result.metadata["preview"]["width"], result.metadata["preview"]["height"]
    assert width * height <= 10_000
    assert 100 < height < 1024  # shrunk for the limit, not for the preview size
    assert abs(width / height - 612 / 792) < 0.02


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"%PDF-1.7\nthis is not really a PDF\n", "corrupt_pdf"),
        (png(20, 20), "corrupt_pdf"),
        (pdf_with_pages(2)[:300], "corrupt_pdf"),
    ],
    ids=["header-only", "png", "truncated"],
)
def test_what_is_no_readable_pdf_fails_permanently(data: bytes, code: str) -> None:
    with pytest.raises(PermanentError) as caught:
        run(data)

    assert caught.value.code == code
