"""Minimal PDFs written by hand for the tests: any number of pages, one line of text each."""

from __future__ import annotations


def pdf_with_pages(pages: int, *, title: str = "Test document") -> bytes:
    """A valid PDF 1.4 whose page n (from 1) shows "Page n" in Helvetica."""
    font = 3
    first_page = 4
    page_ids = [first_page + 2 * index for index in range(pages)]
    info = first_page + 2 * pages
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % page for page in page_ids)
        + b"] /Count %d >>" % pages,
        font: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info: b"<< /Title (%s) /Author (USP tests) >>" % title.encode("latin-1"),
    }
    for number, page in enumerate(page_ids, start=1):
        objects[page] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, page + 1)
        )
        text = b"BT /F1 24 Tf 72 700 Td (Page %d) Tj ET" % number
        objects[page + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text)
    return _assemble(objects, root=1, info=info)


def _assemble(objects: dict[int, bytes], *, root: int, info: int) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\n" % (size, root, info)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
