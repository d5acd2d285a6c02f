"""Row helpers every write to the catalog shares: ids, locking, and a file's state as
its current jobs say.

A file's current jobs are the ones no reprocess has superseded; older jobs stay as
history and no longer count towards its state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import TypeVar

from django.db.models import Model, Q, QuerySet

from webapp.core.errors import NotFound
from webapp.files.models import File, FileState, Job, JobState

_UNFINISHED = (JobState.QUEUED, JobState.RUNNING)

M = TypeVar("M", bound=Model)


def as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    """The id as a UUID; NotFound for text that is not one (it names nothing)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound("No such file or job.", code="not_found") from exc


def by_key(queryset: QuerySet[M]) -> M | None:
    """The one row of a queryset filtered by key, or None; unlike first(), without an
    ORDER BY the key makes pointless (the catalog's hottest paths look rows up so)."""
    return next(iter(queryset.order_by()[:1]), None)


def file_locked(file_id: uuid.UUID | str) -> File:
    """The file, locked for update until the transaction ends; NotFound when missing."""
    file = by_key(File.objects.select_for_update().filter(pk=as_uuid(file_id)))
    if file is None:
        raise NotFound("No such file.", code="file_not_found")
    return file


def file_jobs_with(
    file: File, job_ids: Iterable[uuid.UUID], *, lock: bool = False
) -> dict[uuid.UUID, Job]:
    """Every job of the file, history included, and the jobs `job_ids` name wherever
    they are, by id, read in one query; locked when `lock` (take the file's lock first,
    as every job write does)."""
    jobs = Job.objects.filter(Q(file=file) | Q(pk__in=list(job_ids))).order_by()
    if lock:
        jobs = jobs.select_for_update()
    return {job.pk: job for job in jobs}


def file_state_refresh(file: File) -> None:
    """A stored file's state follows its current jobs; one still waiting for bytes keeps
    it. The caller saves the file."""
    file_state_follow(file, file.jobs.filter(superseded=False).order_by())


def file_state_follow(file: File, jobs: Iterable[Job]) -> None:
    """file_state_refresh without reading the jobs again: `jobs` holds every job of the
    file as it is being saved (jobs of other files are passed over; `jobs` is not read
    for a file still waiting for its bytes)."""
    if file.state == FileState.AWAITING_UPLOAD:
        return
    current = [job.state for job in jobs if job.file_id == file.pk and not job.superseded]
    file.state = file_state_from_jobs(current)


def file_state_from_jobs(states: Sequence[str]) -> FileState:
    if not states:
        return FileState.STORED
    if any(state in _UNFINISHED for state in states):
        return FileState.PROCESSING
    if all(state == JobState.SUCCEEDED for state in states):
        return FileState.READY
    return FileState.FAILED
