"""The type policy: MIME patterns ("image/*", "application/pdf", "*/*") a sniffed type
must match. An empty policy allows every type."""

from __future__ import annotations

import re
from collections.abc import Sequence

from storage_service.errors import InvalidObject, TypeNotAllowed

_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
_PATTERN = re.compile(rf"\*|\*/\*|{_NAME}/\*|{_NAME}/{_NAME}")


def validate(patterns: Sequence[str]) -> list[str]:
    """The patterns, lowercased; InvalidObject for one that is not a MIME pattern."""
    cleaned = []
    for pattern in patterns:
        if _PATTERN.fullmatch(pattern.strip()) is None:
            raise InvalidObject(f"not a MIME type pattern: {pattern[:100]!r}")
        cleaned.append(pattern.strip().lower())
    return cleaned


def allows(patterns: Sequence[str], content_type: str) -> bool:
    if not patterns:
        return True
    major = content_type.lower().split("/", 1)[0]
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern in ("*", "*/*", content_type.lower(), f"{major}/*"):
            return True
    return False


def require_allowed(patterns: Sequence[str], content_type: str) -> None:
    """TypeNotAllowed (message "type_not_allowed: <type> is not allowed") when refused."""
    if not allows(patterns, content_type):
        raise TypeNotAllowed(f"type_not_allowed: {content_type} is not allowed")
