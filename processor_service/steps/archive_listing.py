"""The "archive.listing" step: what a zip or tar holds, read from its headers only.

Nothing is extracted and nested archives are listed like any other entry, never
opened. Limits, checked as entries are read and before any data is decompressed past
them: the number of entries, their total expanded size, the expansion ratio (total
expanded size / archive size, once past archive_limits.RATIO_GRACE_BYTES), and, in
zips, entries whose byte ranges overlap (the trick behind non-recursive zip bombs).
The metadata lists the first `LISTED_ENTRIES`; the "listing" derivative has them all.
"""

from __future__ import annotations

import json
import zipfile
from typing import Any, BinaryIO

from processor_service.steps import DerivativeOutput, StepInput, StepOptions, StepResult
from processor_service.steps.archive_formats import (
    TAR_MAGIC_END,
    is_ustar,
    tar_entries,
    zip_entries,
)
from processor_service.steps.archive_limits import Entry, Limits

LIMITS = ("archive_max_entries", "archive_max_total", "archive_max_ratio")
LISTED_ENTRIES = 1000


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    size = _size(stream)
    limits = Limits(options, size)
    archive_format, entries = _read(stream, limits)
    listing = [entry.as_dict() for entry in entries]
    metadata: dict[str, Any] = {
        "format": archive_format,
        "entry_count": limits.count,
        "total_size": limits.total,
        "archive_size": size,
        "entries": listing[:LISTED_ENTRIES],
        "truncated": len(listing) > LISTED_ENTRIES,
    }
    data = json.dumps({"format": archive_format, "entries": listing}).encode()
    derivative = DerivativeOutput("listing", "application/json", data)
    return StepResult(metadata=metadata, derivatives=[derivative])


def _read(stream: BinaryIO, limits: Limits) -> tuple[str, list[Entry]]:
    """Zip or tar, judged by the bytes; a tar holding a zip is still a tar."""
    stream.seek(0)
    head = stream.read(TAR_MAGIC_END)
    stream.seek(0)
    if not is_ustar(head) and zipfile.is_zipfile(stream):
        return "zip", zip_entries(stream, limits)
    return tar_entries(stream, limits)


def _size(stream: BinaryIO) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size
