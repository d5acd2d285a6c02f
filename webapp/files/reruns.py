"""Running work again: a retry runs a failed job again under its own id; a reprocess runs
steps of a stored file (by default its current ones) as new jobs.

Both go through storage's DispatchJobs, which sends them on the reprocess queue so they
never delay the jobs of fresh uploads. No database transaction spans the call: a retry
resets the job first and puts it back if storage cannot be reached; a reprocess records
its new jobs only once storage has dispatched them. Either way, when storage is down
nothing is left changed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max

from usp import pipelines
from usp.errors import ServiceError
from usp.storage_client import DispatchedJob
from webapp.core.errors import Conflict, InvalidInput, NotFound
from webapp.files.catalog import file_locked, file_state_refresh
from webapp.files.models import ErrorClass, File, Job, JobState
from webapp.files.services import pipeline_validate
from webapp.files.storage import get_storage_client, storage_error

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _FailedJob:
    """What a retry resets, to put back when the dispatch fails."""

    error: str
    error_code: str
    error_class: str
    last_sequence: int
    started_at: datetime | None
    finished_at: datetime | None


def job_retry(*, job: Job) -> Job:
    """Run a failed job again under its id; Conflict "not_failed" for a job in any other
    state, "superseded" for one a reprocess replaced. Returns the job, queued again."""
    failed = _job_reset(job_id=job.pk)
    try:
        get_storage_client().dispatch_jobs(str(job.file_id), [DispatchedJob(str(job.pk), job.step)])
    except ServiceError as error:
        _job_put_back(job_id=job.pk, failed=failed)
        raise storage_error(error) from error
    logger.info(
        "job retried",
        extra={"fields": {"job_id": job.pk, "file_id": job.file_id, "step": job.step}},
    )
    return Job.objects.get(pk=job.pk)


@transaction.atomic
def _job_reset(*, job_id: uuid.UUID) -> _FailedJob:
    """Queue the failed job again, keeping its attempts.

    Its events start again at attempt 1 (sequence 11), below the sequence of the failure
    just applied, so the job's last sequence goes back to 0. That is safe because the
    job was failed: its last attempt's final event was applied, and every earlier event
    of that run was published before it and so was applied (or ignored as stale) before
    it too; only a redelivery of an old event could still arrive, and the retry's own
    events supersede what it says.
    """
    file, job = _locked(job_id)
    if job.superseded:
        raise Conflict("A reprocess replaced this job; retry its replacement.", code="superseded")
    if job.state != JobState.FAILED:
        raise Conflict(
            f"Only a failed job can be retried; this one is {job.state}.", code="not_failed"
        )
    failed = _FailedJob(
        job.error,
        job.error_code,
        job.error_class,
        job.last_sequence,
        job.started_at,
        job.finished_at,
    )
    job.state = JobState.QUEUED
    job.error, job.error_code, job.error_class = "", "", ErrorClass.NONE
    job.next_retry_at = job.started_at = job.finished_at = None
    job.last_sequence = 0
    job.save()
    _file_refresh(file)
    return failed


@transaction.atomic
def _job_put_back(*, job_id: uuid.UUID, failed: _FailedJob) -> None:
    """Undo `_job_reset` after a dispatch that did not happen, unless an event has
    moved the job on meanwhile."""
    file, job = _locked(job_id)
    if job.state != JobState.QUEUED or job.last_sequence != 0:
        return
    job.state = JobState.FAILED
    job.error, job.error_code, job.error_class = failed.error, failed.error_code, failed.error_class
    job.last_sequence = failed.last_sequence
    job.started_at, job.finished_at = failed.started_at, failed.finished_at
    job.save()
    _file_refresh(file)


def file_reprocess(*, file: File, steps: Sequence[str] = ()) -> File:
    """Run `steps` (default: the file's current steps) on the stored file again, as new
    jobs that supersede the file's earlier jobs of the same steps; returns the file, now
    processing. InvalidInput for an unknown step; Conflict "not_stored" when the file has
    no stored bytes."""
    if not file.is_stored:
        raise Conflict(
            "The file's bytes are not stored; there is nothing to process.", code="not_stored"
        )
    chosen = reprocess_steps(file=file, requested=steps)
    try:
        dispatched = get_storage_client().dispatch_jobs(
            str(file.pk), [DispatchedJob("", step) for step in chosen]
        )
    except ServiceError as error:
        raise storage_error(error) from error
    reprocessed = _jobs_record(file_id=file.pk, dispatched=dispatched)
    logger.info(
        "file reprocessed", extra={"fields": {"file_id": file.pk, "steps": ",".join(chosen)}}
    )
    return reprocessed


def reprocess_steps(*, file: File, requested: Sequence[str]) -> list[str]:
    """The requested steps, validated; else the file's current steps; else the default
    pipeline of its type."""
    steps = pipeline_validate(steps=requested)
    unknown = pipelines.unknown_steps(steps)
    if unknown:
        raise InvalidInput(
            f"Unknown step {unknown[0]!r}.",
            code="unknown_step",
            fields={"steps": [f"Steps are: {', '.join(pipelines.STEPS)}."]},
        )
    if steps:
        return steps
    current = file.jobs.filter(superseded=False).order_by("position", "created_at")
    return list(dict.fromkeys(current.values_list("step", flat=True))) or (
        pipelines.default_pipeline(file.content_type)
    )


@transaction.atomic
def _jobs_record(*, file_id: uuid.UUID, dispatched: Sequence[DispatchedJob]) -> File:
    file = file_locked(file_id)
    new_ids = [uuid.UUID(job.job_id) for job in dispatched]
    last = file.jobs.exclude(pk__in=new_ids).aggregate(last=Max("position"))["last"]
    first = 0 if last is None else last + 1
    for offset, job in enumerate(dispatched):
        Job.objects.get_or_create(
            id=uuid.UUID(job.job_id),
            defaults={"file": file, "step": job.step, "position": first + offset},
        )
    steps = {job.step for job in dispatched}
    file.jobs.filter(step__in=steps, superseded=False).exclude(pk__in=new_ids).update(
        superseded=True
    )
    _file_refresh(file)
    return file


def _locked(job_id: uuid.UUID) -> tuple[File, Job]:
    """The job's file, then the job, locked in the order every job write takes them."""
    file_id = Job.objects.filter(pk=job_id).values_list("file_id", flat=True).first()
    if file_id is None:
        raise NotFound("No such job.", code="not_found")
    file = file_locked(file_id)
    return file, Job.objects.select_for_update().get(pk=job_id)


def _file_refresh(file: File) -> None:
    file_state_refresh(file)
    file.save(update_fields=["state", "updated_at"])
