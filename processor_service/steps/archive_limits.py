"""The limits an archive listing enforces, entry by entry, and the entry it lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processor_service.steps import PermanentError, StepOptions

# Small archives of highly repetitive data (logs, zeros) are not bombs.
RATIO_GRACE_BYTES = 64 * 1024 * 1024
MAX_NAME = 1024


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    compressed_size: int | None
    is_dir: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "compressed_size": self.compressed_size,
            "is_dir": self.is_dir,
        }


def clean_name(name: str) -> str:
    """A name JSON and protobuf can carry: undecodable bytes replaced, length capped."""
    return name.encode("utf-8", "replace").decode("utf-8")[:MAX_NAME]


class Limits:
    """Refuses an archive as soon as the entries counted so far break a limit."""

    def __init__(self, options: StepOptions, archive_size: int) -> None:
        self.max_entries = options.archive_max_entries
        self.max_total = options.archive_max_total
        self.max_ratio = options.archive_max_ratio
        self.archive_size = max(archive_size, 1)
        self.count = 0
        self.total = 0

    def check_count(self, count: int) -> None:
        if count > self.max_entries:
            raise PermanentError(
                "archive_too_large", f"the archive has more than {self.max_entries} entries"
            )

    def add(self, entry: Entry) -> None:
        self.count += 1
        self.total += entry.size
        self.check_count(self.count)
        if self.total > self.max_total:
            raise PermanentError(
                "archive_too_large", f"the archive expands to more than {self.max_total} bytes"
            )
        if self.total > RATIO_GRACE_BYTES and self.total / self.archive_size > self.max_ratio:
            raise PermanentError(
                "archive_bomb",
                f"the archive expands more than {self.max_ratio} times its size "
                f"({self.total} bytes from {self.archive_size})",
            )

    def expansion_cap(self) -> int:
        """Bytes past which one more expanded byte breaks the size or ratio limit."""
        by_ratio = max(RATIO_GRACE_BYTES, self.max_ratio * self.archive_size)
        return min(self.max_total, by_ratio) - self.total
