"""EXIF as a JSON-safe dictionary keyed by tag names.

Pillow returns ints, strings, bytes, rationals and tuples of those; JSON (and the
protobuf Struct the metadata travels in) holds none of bytes, rationals or NaN. Short
byte strings become hex, long ones (maker notes, thumbnails) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from PIL import ExifTags, Image, TiffImagePlugin

MAX_BYTES = 64
MAX_TEXT = 1024
# Pointers to sub-directories, meaningless once the directories are merged in.
_POINTER_TAGS = frozenset({ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop})


def exif_dict(image: Image.Image) -> dict[str, Any]:
    """The image's EXIF (main and Exif directories merged; GPS under "gps")."""
    exif = image.getexif()
    tags = {**dict(exif), **dict(exif.get_ifd(ExifTags.IFD.Exif))}
    result = _named(tags, ExifTags.TAGS, skip=_POINTER_TAGS)
    gps = _named(dict(exif.get_ifd(ExifTags.IFD.GPSInfo)), ExifTags.GPSTAGS)
    if gps:
        result["gps"] = gps
    return result


def _named(
    tags: Mapping[int, Any], names: Mapping[int, str], skip: Collection[int] = ()
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for tag, raw in tags.items():
        name = names.get(tag)
        value = json_safe(raw)
        if name and tag not in skip and value is not None:
            result[name] = value
    return result


def json_safe(value: Any) -> Any:
    """A JSON-safe copy of an EXIF value, or None when it has no useful JSON form."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, TiffImagePlugin.IFDRational | float):
        return _number(float(value))
    if isinstance(value, bytes):
        return value.hex() if len(value) <= MAX_BYTES else None
    if isinstance(value, tuple | list):
        items = [json_safe(item) for item in value]
        return items if all(item is not None for item in items) else None
    return None


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _text(value: str) -> str | None:
    cleaned = value.replace("\x00", "").strip()
    return cleaned[:MAX_TEXT] if cleaned else None
