"""Reads of the file catalog, always on behalf of a user, and downloads of the bytes."""

from __future__ import annotations

import logging
import mimetypes
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from django.db.models import Prefetch, QuerySet

from usp.errors import ServiceError
from webapp.accounts.models import User
from webapp.core.errors import Conflict, InvalidInput, NotFound
from webapp.files.models import Derivative, File, Job, JobState
from webapp.files.storage import get_storage_client, storage_error

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadTarget:
    """Stored bytes to download and what to call them; nothing is read yet."""

    sha256: str
    size: int
    content_type: str
    filename: str

    @property
    def etag(self) -> str:
        """A strong entity tag: the content's SHA-256 names it exactly."""
        return f'"{self.sha256}"'


def file_list(*, user: User) -> QuerySet[File]:
    """The user's own files, newest first, with their current jobs (`file.jobs.all()`:
    those no reprocess superseded) and derivatives."""
    return files_with_jobs(File.objects.filter(owner=user)).order_by("-created_at", "-pk")


def files_with_jobs(files: QuerySet[File]) -> QuerySet[File]:
    current = Job.objects.filter(superseded=False)
    return files.prefetch_related(Prefetch("jobs", queryset=current), "derivatives")


def file_get(*, user: User, file_id: uuid.UUID | str) -> File:
    """One of the user's files; NotFound for anyone else's, a missing or malformed id."""
    file = file_list(user=user).filter(pk=_key(file_id, "file")).first()
    if file is None:
        raise NotFound("No such file.", code="not_found")
    return file


def job_list(*, user: User, state: str | None = None, step: str = "") -> QuerySet[Job]:
    """The user's current jobs (superseded ones are history), newest first, optionally
    in one state and of one step; InvalidInput for a state that is none of the states
    (an empty one included)."""
    jobs = Job.objects.filter(file__owner=user, superseded=False)
    if state is not None:
        if state not in JobState.values:
            raise InvalidInput(
                f"Unknown job state {state[:32]!r}.",
                code="invalid_filter",
                fields={"state": [f"One of: {', '.join(JobState.values)}."]},
            )
        jobs = jobs.filter(state=state)
    if step:
        jobs = jobs.filter(step=step)
    return jobs.order_by("-created_at", "-pk")


def job_get(*, user: User, job_id: uuid.UUID | str) -> Job:
    """One of the user's jobs; NotFound for anyone else's, a missing or malformed id."""
    job = Job.objects.filter(file__owner=user, pk=_key(job_id, "job")).first()
    if job is None:
        raise NotFound("No such job.", code="not_found")
    return job


def _key(value: uuid.UUID | str, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"No such {what}.", code="not_found") from exc


def derivative_get(*, file: File, kind: str) -> Derivative:
    derivative = file.derivatives.filter(kind=kind).first()
    if derivative is None:
        raise NotFound(f"This file has no {kind[:100]!r} derivative.", code="not_found")
    return derivative


def file_content_target(*, file: File) -> DownloadTarget:
    """The original bytes; Conflict "not_stored" until storage has committed them."""
    if not file.is_stored or file.size is None:
        raise Conflict("The file's bytes are not stored yet.", code="not_stored")
    return DownloadTarget(file.sha256, file.size, file.content_type or _OCTETS, file.name)


def derivative_content_target(*, file: File, kind: str) -> DownloadTarget:
    derivative = derivative_get(file=file, kind=kind)
    content_type = derivative.content_type or _OCTETS
    filename = _derivative_filename(file.name, kind, content_type)
    return DownloadTarget(derivative.sha256, derivative.size, content_type, filename)


_OCTETS = "application/octet-stream"


def content_open(*, target: DownloadTarget, offset: int = 0, length: int = 0) -> Iterator[bytes]:
    """Stream `length` bytes from `offset` (zero: to the end), chunk by chunk.

    The read starts now, so an unreachable storage is an error before any byte is sent.
    """
    chunks = get_storage_client().read_object(target.sha256, offset=offset, length=length)
    try:
        first = next(chunks, b"")
    except ServiceError as error:
        raise storage_error(error) from error
    return _logged(chain([first], chunks), target.sha256)


def _logged(chunks: Iterator[bytes], sha256: str) -> Iterator[bytes]:
    try:
        yield from chunks
    except ServiceError as error:
        # Headers are sent already: the response can only be cut short.
        logger.error(
            "download broke off",
            extra={"fields": {"sha256": sha256, "status": error.status.name}},
        )
        raise


def _derivative_filename(name: str, kind: str, content_type: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    extension = mimetypes.guess_extension(content_type) or ""
    return f"{stem}-{kind}{extension}"
