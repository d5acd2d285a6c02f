"""The "pdf.preview" step: page count, document info, first-page image, first text.

PDFium (through pypdfium2) opens the document from the stream; only the first page is
rendered, at a scale that makes its longest side `preview_size` pixels and never more
than `max_pixels` pixels in all, and only the first `pdf_text_pages` pages are read
for text, up to `pdf_text_chars` characters. Forms and scripts are never run.
"""

from __future__ import annotations

import math
from typing import Any, BinaryIO

import pypdfium2

from processor_service.steps import (
    DerivativeOutput,
    PermanentError,
    StepInput,
    StepOptions,
    StepResult,
)
from processor_service.steps.thumbnail import encode

LIMITS = ("max_pixels", "preview_size", "pdf_text_pages", "pdf_text_chars")
MAX_INFO_TEXT = 1024


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    stream.seek(0)
    document = _open(stream)
    try:
        return _describe(document, options)
    except pypdfium2.PdfiumError as error:
        raise PermanentError("corrupt_pdf", f"the PDF is damaged: {error}") from None
    finally:
        document.close()


def _open(stream: BinaryIO) -> pypdfium2.PdfDocument:
    try:
        return pypdfium2.PdfDocument(stream)
    except pypdfium2.PdfiumError as error:
        if "password" in str(error).lower():
            raise PermanentError("encrypted_pdf", "the PDF is protected by a password") from None
        raise PermanentError("corrupt_pdf", f"the PDF cannot be opened: {error}") from None


def _describe(document: pypdfium2.PdfDocument, options: StepOptions) -> StepResult:
    pages = len(document)
    text, examined = first_text(document, pages=pages, options=options)
    metadata: dict[str, Any] = {
        "pages": pages,
        "pdf_version": _version(document),
        "info": _info(document),
        "text": text,
        "text_pages": examined,
    }
    if not pages:
        return StepResult(metadata=metadata)
    image = render_first_page(document, options)
    metadata["preview"] = {"width": image.width, "height": image.height}
    kind = f"preview-{options.preview_size}"
    data = encode(image, output_format="WEBP")
    return StepResult(metadata=metadata, derivatives=[DerivativeOutput(kind, "image/webp", data)])


def render_first_page(document: pypdfium2.PdfDocument, options: StepOptions) -> Any:
    """The first page as an RGB image, its longest side `preview_size` at most."""
    page = document[0]
    try:
        width, height = page.get_size()
        scale = render_scale(width, height, options)
        bitmap = page.render(scale=scale, may_draw_forms=False)
        return bitmap.to_pil().convert("RGB")
    finally:
        page.close()


def render_scale(width: float, height: float, options: StepOptions) -> float:
    """Points -> pixels factor: the preview size for the long side, the pixel cap overall."""
    if width <= 0 or height <= 0:
        raise PermanentError("corrupt_pdf", f"the first page measures {width}x{height} points")
    scale = options.preview_size / max(width, height)
    if width * height * scale * scale > options.max_pixels:
        scale = math.sqrt(options.max_pixels / (width * height))
    # PDFium rounds the bitmap's sides up; shrink until the rounded size fits too.
    while math.ceil(width * scale) * math.ceil(height * scale) > options.max_pixels:
        scale *= 0.99
    return scale


def first_text(
    document: pypdfium2.PdfDocument, *, pages: int, options: StepOptions
) -> tuple[str, int]:
    """The text of the first pages, at most `pdf_text_chars`; and how many pages were read."""
    parts: list[str] = []
    remaining = options.pdf_text_chars
    examined = 0
    while examined < min(pages, options.pdf_text_pages) and remaining > 0:
        part = _page_text(document, examined, remaining)
        parts.append(part)
        remaining -= len(part)
        examined += 1
    return "\n".join(parts)[: options.pdf_text_chars], examined


def _page_text(document: pypdfium2.PdfDocument, index: int, limit: int) -> str:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            count = min(textpage.count_chars(), limit)
            return str(textpage.get_text_range(0, count)) if count > 0 else ""
        finally:
            textpage.close()
    finally:
        page.close()


def _info(document: pypdfium2.PdfDocument) -> dict[str, str]:
    info = document.get_metadata_dict(skip_empty=True)
    return {str(key): str(value).replace("\x00", "")[:MAX_INFO_TEXT] for key, value in info.items()}


def _version(document: pypdfium2.PdfDocument) -> str:
    version = document.get_version()
    return f"{version // 10}.{version % 10}" if version else ""
