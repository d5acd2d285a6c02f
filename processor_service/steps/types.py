"""Which MIME types each family of steps is for, and the default pipeline per type.

Types are the ones storage sniffs from the bytes (filetype's names plus text/plain).
"""

from __future__ import annotations

IMAGES = ("image/*",)
PDF = ("application/pdf",)
TEXT = ("text/*", "application/json", "application/xml", "image/svg+xml")
ARCHIVE = (
    "application/zip",
    "application/x-tar",
    "application/gzip",
    "application/x-gzip",
    "application/x-bzip2",
    "application/x-xz",
)
MEDIA = ("audio/*", "video/*")

# Image types the image steps can decode (see imaging.FORMATS); other image/* types
# (HEIC, DWG, XCF, raw) only get a checksum by default.
DECODABLE_IMAGES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/apng",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/bmp",
        "image/x-icon",
        "image/avif",
        "image/jp2",
        "image/jpx",
        "image/x-portable-anymap",
        "image/x-tga",
        "image/vnd.adobe.photoshop",
    }
)
SVG = "image/svg+xml"

_IMAGE_PIPELINE = ["image.metadata", "image.thumbnail", "checksum"]
_TEXT_PIPELINE = ["text.stats", "checksum"]


def pipeline_for(content_type: str) -> list[str]:
    """The default steps for a bare, lower-case MIME type, the checksum always last.

    SVG is text to us: it is never rasterized, so it gets text statistics.
    """
    if content_type in DECODABLE_IMAGES:
        return list(_IMAGE_PIPELINE)
    if content_type == SVG or content_type.startswith("text/"):
        return list(_TEXT_PIPELINE)
    if content_type in ("application/json", "application/xml"):
        return list(_TEXT_PIPELINE)
    if content_type in PDF:
        return ["pdf.preview", "checksum"]
    if content_type in ARCHIVE:
        return ["archive.listing", "checksum"]
    if content_type.startswith(("audio/", "video/")):
        return ["media.probe", "checksum"]
    return ["checksum"]
