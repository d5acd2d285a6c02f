"""What the templates show about a file, computed once in Python rather than in tags."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webapp.files.links import derivative_content_path, file_content_path
from webapp.files.models import SETTLED_FILE_STATES, File

THUMBNAIL_PREFIX = "thumbnail"


@dataclass(frozen=True)
class MetadataRow:
    key: str
    value: str
    structured: bool


@dataclass(frozen=True)
class DerivativeRow:
    kind: str
    content_type: str
    size: int
    url: str


@dataclass(frozen=True)
class FileView:
    file: File
    thumbnail_url: str
    content_url: str
    derivatives: list[DerivativeRow]

    @property
    def finished(self) -> bool:
        return self.file.state in SETTLED_FILE_STATES


def file_view(file: File) -> FileView:
    """Links for a file whose jobs and derivatives are prefetched."""
    derivatives = [
        DerivativeRow(d.kind, d.content_type, d.size, derivative_content_path(file, d.kind))
        for d in file.derivatives.all()
    ]
    thumbnails = [d.url for d in derivatives if d.kind.startswith(THUMBNAIL_PREFIX)]
    return FileView(
        file=file,
        thumbnail_url=thumbnails[0] if thumbnails else "",
        content_url=file_content_path(file) if file.is_stored else "",
        derivatives=derivatives,
    )


def metadata_rows(metadata: dict[str, Any] | Any) -> list[MetadataRow]:
    """One row per top-level key, sorted; objects and lists as indented JSON."""
    if not isinstance(metadata, dict):
        return [MetadataRow("value", pretty_json(metadata), True)] if metadata else []
    return [_row(key, metadata[key]) for key in sorted(metadata, key=str)]


def _row(key: Any, value: Any) -> MetadataRow:
    if isinstance(value, dict | list):
        return MetadataRow(str(key), pretty_json(value), True)
    return MetadataRow(str(key), "" if value is None else str(value), False)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
