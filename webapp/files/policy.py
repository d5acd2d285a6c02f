"""What may be uploaded: names fit for display, a size limit and a type policy.

These checks run before any byte moves, on what the client claims (a name, a size);
storage checks the bytes themselves again (their length and their sniffed type).
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from collections.abc import Sequence

from django.conf import settings

from webapp.core.errors import TooLarge, TypeNotAllowed

NAME_MAX_LENGTH = 255
EXTENSION_MAX_LENGTH = 16
OCTETS = "application/octet-stream"
_PATH_SEPARATORS = re.compile(r"[/\\]")
# Unicode categories never shown in a name: controls, bidi and other format characters,
# surrogates, private use, unassigned; line and paragraph separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def file_name_sanitize(raw: str) -> str:
    """A name fit for display and headers, never for a path.

    Keeps the last path component; turns tabs and line breaks into single spaces; drops
    NUL, control, bidi-override and other invisible characters; names of dots only
    become "unnamed"; keeps at most 255 characters, with the extension.
    """
    base = _PATH_SEPARATORS.split(unicodedata.normalize("NFC", raw or ""))[-1]
    spaced = "".join(" " if ch.isspace() else ch for ch in base)
    visible = "".join(ch for ch in spaced if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    cleaned = " ".join(visible.split())
    if cleaned.strip(".") == "":
        return "unnamed"
    return _shortened(cleaned)


def _shortened(name: str) -> str:
    if len(name) <= NAME_MAX_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= EXTENSION_MAX_LENGTH:
        return stem[: NAME_MAX_LENGTH - len(extension) - 1].rstrip() + "." + extension
    return name[:NAME_MAX_LENGTH].rstrip()


def claimed_type(name: str) -> str:
    """The type a name claims by its extension; application/octet-stream when unknown."""
    content_type, _encoding = mimetypes.guess_type(name, strict=False)
    return content_type or OCTETS


def type_matches(content_type: str, patterns: Sequence[str]) -> bool:
    """Whether a type matches one of the MIME patterns ("image/*", "*/*", "text/plain");
    no patterns allow every type."""
    if not patterns:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    major = kind.split("/", 1)[0]
    return any(p in ("*/*", kind) or p == f"{major}/*" for p in patterns)


def upload_size_check(size: int) -> None:
    """TooLarge when `size` passes USP_MAX_UPLOAD_SIZE."""
    limit = settings.USP.max_upload_size
    if size > limit:
        raise TooLarge(
            f"The file is too large: {size} bytes; uploads may be at most {limit} bytes."
        )


def upload_type_check(name: str) -> None:
    """TypeNotAllowed when the type the name claims is outside USP_ALLOWED_TYPES."""
    allowed = settings.USP.allowed_types
    content_type = claimed_type(name)
    if not type_matches(content_type, allowed):
        raise TypeNotAllowed(
            f"Files of type {content_type} are not accepted here; allowed: {', '.join(allowed)}."
        )
