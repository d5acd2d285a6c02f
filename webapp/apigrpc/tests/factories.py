"""Small builders of catalog rows for the gRPC API's tests (and the pages' tests)."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from webapp.accounts.models import User
from webapp.accounts.services import api_token_create
from webapp.files.models import Derivative, File, FileState, Job, JobState

_numbers = itertools.count(1)


def user_create(name: str = "") -> User:
    name = name or f"user{next(_numbers)}"
    return User.objects.create_user(username=name, email=f"{name}@example.com", password="pw")


def token_for(user: User) -> str:
    _token, key = api_token_create(user=user, name="tests")
    return key


def stored_file_create(
    *,
    owner: User,
    name: str = "photo.jpg",
    state: str = FileState.STORED,
    content: bytes = b"content",
    created_at: datetime | None = None,
    **fields: Any,
) -> File:
    return File.objects.create(
        owner=owner,
        name=name,
        size=len(content),
        content_type=fields.pop("content_type", "image/jpeg"),
        sha256=hashlib.sha256(content).hexdigest(),
        state=state,
        created_at=created_at or timezone.now(),
        **fields,
    )


def job_create(
    *, file: File, step: str, position: int = 0, state: str = JobState.QUEUED, **fields: Any
) -> Job:
    return Job.objects.create(
        id=uuid.uuid4(), file=file, step=step, position=position, state=state, **fields
    )


def derivative_create(
    *, file: File, kind: str = "thumbnail-256", content: bytes = b"t"
) -> Derivative:
    return Derivative.objects.create(
        file=file,
        kind=kind,
        sha256=hashlib.sha256(content).hexdigest(),
        content_type="image/webp",
        size=len(content),
    )


def files_in_order(owner: User, count: int) -> list[File]:
    """`count` files, the newest first, one minute apart."""
    now = timezone.now()
    return [
        stored_file_create(owner=owner, name=f"f{i}.jpg", created_at=now - timedelta(minutes=i))
        for i in range(count)
    ]
