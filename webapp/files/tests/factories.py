"""Catalog rows for tests, in the states the services would leave them."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from webapp.accounts.models import User
from webapp.files.models import Derivative, File, FileState, Job, JobState


def file_make(
    *,
    owner: User,
    name: str = "notes.txt",
    data: bytes = b"hello\n",
    content_type: str = "text/plain",
    state: str = FileState.STORED,
    created_at: datetime | None = None,
    **fields: Any,
) -> File:
    stored = state != FileState.AWAITING_UPLOAD
    return File.objects.create(
        owner=owner,
        name=name,
        size=len(data) if stored else None,
        sha256=hashlib.sha256(data).hexdigest() if stored else "",
        content_type=content_type if stored else "",
        state=state,
        created_at=created_at or timezone.now(),
        **fields,
    )


def job_make(
    *, file: File, step: str, state: str = JobState.QUEUED, position: int = 0, **fields: Any
) -> Job:
    return Job.objects.create(
        id=fields.pop("id", uuid.uuid4()),
        file=file,
        step=step,
        state=state,
        position=position,
        **fields,
    )


def jobs_make(*, file: File, steps: Sequence[str]) -> list[Job]:
    return [job_make(file=file, step=step, position=n) for n, step in enumerate(steps)]


def derivative_make(
    *, file: File, kind: str = "thumbnail-256", data: bytes = b"RIFF-webp", **fields: Any
) -> Derivative:
    fields.setdefault("content_type", "image/webp")
    return Derivative.objects.create(
        file=file, kind=kind, sha256=hashlib.sha256(data).hexdigest(), size=len(data), **fields
    )
