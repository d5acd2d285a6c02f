"""Plain values the storage domain returns: stored objects, dispatched jobs, outcomes,
upload sessions, remembered step results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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


@dataclass(frozen=True)
class UploadInfo:
    """A resumable upload session as its callers see it, with its signed location."""

    session_id: str
    file_id: str
    owner_id: str
    name: str
    size: int
    declared_sha256: str
    pipeline: tuple[str, ...]
    allowed_types: tuple[str, ...]
    offset: int
    state: str
    expires_at: datetime
    upload_url: str


@dataclass(frozen=True)
class ResultKey:
    """Names a step's result: the same content, step, version and options give the same
    result."""

    input_sha256: str
    step: str
    version: int
    options_digest: str


@dataclass(frozen=True)
class Derivative:
    kind: str
    object: ObjectInfo


@dataclass(frozen=True)
class StepResultInfo:
    """A remembered result: what the step learned and the derivatives it stored."""

    key: ResultKey
    metadata: dict[str, Any]
    derivatives: list[Derivative] = field(default_factory=list)
