"""Plain values the storage domain returns: stored objects, dispatched jobs, outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ObjectInfo:
    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class Job:
    job_id: str
    step: str


@dataclass(frozen=True)
class WriteOutcome:
    object: ObjectInfo
    created: bool
    jobs: list[Job] = field(default_factory=list)


@dataclass(frozen=True)
class OutboxEntry:
    """One message to publish after the commit: kind "job" or "event", encoded body."""

    kind: str
    body: bytes
