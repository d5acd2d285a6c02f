"""The pipeline contract between storage and the processor: the step names, which
MIME types each family of steps is for, and the default pipeline per sniffed type.

Storage dispatches by these names; the processor registers a step under each of them.
Types are the ones storage sniffs from the bytes (filetype's names plus text/plain).
"""

from __future__ import annotations

from collections.abc import Sequence

STEPS = (
    "metadata",
    "checksum",
    "image.metadata",
    "image.thumbnail",
    "pdf.preview",
    "text.stats",
    "archive.listing",
    "media.probe",
)

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


def base_type(content_type: str) -> str:
    """`text/plain; charset=utf-8` -> `text/plain`."""
    return content_type.split(";", 1)[0].strip().lower()


def unknown_steps(requested: Sequence[str]) -> list[str]:
    return [step for step in requested if step not in STEPS]


def default_pipeline(content_type: str) -> list[str]:
    """The steps a fresh upload of this sniffed type gets when none are named, the
    checksum always last. SVG is text to us: never rasterized, it gets text statistics."""
    content_type = base_type(content_type)
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
