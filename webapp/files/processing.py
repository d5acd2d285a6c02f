"""Recording what the processor reports about jobs: attempts starting, succeeding and
failing, applied in order per job.

Each job event carries a sequence (attempt * 10 + phase); an event whose sequence is not
above the job's `last_sequence` is stale or a duplicate and changes nothing, so a late
"started" never overwrites "succeeded". A retry starts a job's sequence again (see
`webapp.files.reruns.job_retry`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from usp.storage_client import StoredObject
from webapp.files.catalog import as_uuid, file_jobs_with, file_locked, file_state_follow
from webapp.files.models import Derivative, ErrorClass, File, Job, JobState

logger = logging.getLogger(__name__)

# Dramatiq's largest backoff exponent; beyond it the wait no longer grows.
_MAX_EXPONENT = 32
# Every column a job event may change; the others (file, step, position, superseded,
# created_at) only a dispatch or a reprocess writes.
_JOB_EVENT_FIELDS = (
    "state",
    "attempts",
    "error",
    "error_code",
    "error_class",
    "next_retry_at",
    "last_sequence",
    "started_at",
    "finished_at",
    "updated_at",
)


@dataclass(frozen=True)
class JobEvent:
    """What every job event says: which job, which attempt, and when; an attempt's end
    also says when it began (a short one is never reported started on its own)."""

    file_id: str
    job_id: str
    step: str
    attempt: int
    sequence: int
    occurred_at: datetime
    started_at: datetime | None = None


@dataclass(frozen=True)
class DerivativeStored:
    kind: str
    object: StoredObject


@dataclass(frozen=True)
class _JobRows:
    """What a job event changes, locked: the file, the job, and every job of the file
    (the job among them), which the file's state follows; and the file's state and
    metadata as read, so that a file the event leaves as it was is not written."""

    file: File
    job: Job
    jobs: dict[uuid.UUID, Job]
    file_state: str
    file_metadata: dict[str, Any]


@dataclass(frozen=True)
class JobFailure:
    """Why an attempt failed: a message for people, a code for programs, and whether
    trying again later may succeed."""

    message: str
    code: str = ""
    transient: bool = False

    @property
    def error_class(self) -> ErrorClass:
        return ErrorClass.TRANSIENT if self.transient else ErrorClass.PERMANENT


@transaction.atomic
def job_started_record(*, event: JobEvent) -> Job | None:
    """An attempt began; None when the event is stale or a duplicate."""
    rows = _rows_for_event(event)
    if rows is None:
        return None
    job = rows.job
    job.state = JobState.RUNNING
    job.attempts = max(job.attempts, event.attempt)
    _error_clear(job)
    job.started_at = event.occurred_at
    job.finished_at = None
    _job_save_and_refresh(rows)
    return job


@transaction.atomic
def job_succeeded_record(
    *, event: JobEvent, metadata: dict[str, Any], derivatives: Sequence[DerivativeStored]
) -> Job | None:
    """The step finished: its metadata goes under the step's name, its derivatives are
    recorded (once per kind); None when the event is stale or a duplicate."""
    rows = _rows_for_event(event)
    if rows is None:
        return None
    file, job = rows.file, rows.job
    job.state = JobState.SUCCEEDED
    job.attempts = max(job.attempts, event.attempt)
    _error_clear(job)
    _started_at_record(job, event)
    job.finished_at = event.occurred_at
    file.metadata = {**file.metadata, job.step: metadata}
    _derivatives_upsert(file, derivatives)
    _job_save_and_refresh(rows)
    return job


@transaction.atomic
def job_failed_record(*, event: JobEvent, failure: JobFailure, will_retry: bool) -> Job | None:
    """An attempt failed: queued again, with the error and about when the next attempt
    comes, when the processor will retry it; failed for good otherwise. None when the
    event is stale or a duplicate."""
    rows = _rows_for_event(event)
    if rows is None:
        return None
    job = rows.job
    job.state = JobState.QUEUED if will_retry else JobState.FAILED
    job.attempts = max(job.attempts, event.attempt)
    job.error = failure.message
    job.error_code = failure.code
    job.error_class = failure.error_class
    job.next_retry_at = (
        retry_estimate(attempt=event.attempt, failed_at=event.occurred_at) if will_retry else None
    )
    _started_at_record(job, event)
    job.finished_at = None if will_retry else event.occurred_at
    _job_save_and_refresh(rows)
    return job


def retry_estimate(*, attempt: int, failed_at: datetime) -> datetime | None:
    """About when the processor tries again after attempt `attempt` failed.

    The events do not say; this follows the processor's backoff (Dramatiq's, from the
    same USP_JOB_MIN_BACKOFF and USP_JOB_MAX_BACKOFF): a wait between b and 2b with
    b = min_backoff * 2^(attempt-1), or between half the maximum and the maximum once
    that is passed. The estimate is the middle; None when no backoff is configured.
    """
    minimum, maximum = settings.USP.job_min_backoff_ms, settings.USP.job_max_backoff_ms
    if maximum <= 0:
        return None
    base = minimum * 2 ** min(max(attempt - 1, 0), _MAX_EXPONENT)
    middle_ms = min(1.5 * base, 0.75 * maximum)
    return failed_at + timedelta(milliseconds=middle_ms)


def _started_at_record(job: Job, event: JobEvent) -> None:
    if event.started_at is not None:
        job.started_at = event.started_at


def _error_clear(job: Job) -> None:
    job.error = ""
    job.error_code = ""
    job.error_class = ErrorClass.NONE
    job.next_retry_at = None


def _rows_for_event(event: JobEvent) -> _JobRows | None:
    """The file, then its jobs, locked in that order; None when the event is not newer
    than the last one applied to its job. Raises NotFound for an unknown file."""
    file = file_locked(event.file_id)
    job_id = as_uuid(event.job_id)
    jobs = file_jobs_with(file, [job_id], lock=True)
    job = jobs.get(job_id)
    if job is None:
        # The event overtook the dispatch that names the job (file.stored or a reprocess).
        job = Job(id=job_id, file=file, step=event.step, last_sequence=-1, position=len(jobs))
        jobs[job_id] = job
    if event.sequence <= job.last_sequence:
        logger.info(
            "stale job event ignored",
            extra={"fields": {"job_id": event.job_id, "sequence": event.sequence}},
        )
        return None
    job.last_sequence = event.sequence
    return _JobRows(
        file=file, job=job, jobs=jobs, file_state=file.state, file_metadata=file.metadata
    )


def _job_save_and_refresh(rows: _JobRows) -> None:
    _job_save(rows.job)
    file_state_follow(rows.file, rows.jobs.values())
    _file_save_changes(rows)


def _job_save(job: Job) -> None:
    """A job the event created is inserted straight away, not first tried as an update;
    an existing one gets only the columns events write."""
    if job._state.adding:
        job.save(force_insert=True)
    else:
        job.save(update_fields=_JOB_EVENT_FIELDS)


def _file_save_changes(rows: _JobRows) -> None:
    """Write the file's state and metadata where the event changed them, nothing when it
    changed neither (most events leave a processing file processing): its `updated_at`
    says when the file itself last changed."""
    file = rows.file
    changed = [
        name
        for name, before in (("state", rows.file_state), ("metadata", rows.file_metadata))
        if getattr(file, name) != before
    ]
    if changed:
        file.save(update_fields=[*changed, "updated_at"])


def _derivatives_upsert(file: File, derivatives: Sequence[DerivativeStored]) -> None:
    """One row per kind, inserted or overwritten in one statement; of a kind listed
    twice the last one counts."""
    latest = {derivative.kind: derivative for derivative in derivatives}
    Derivative.objects.bulk_create(
        [
            Derivative(
                file=file,
                kind=kind,
                sha256=derivative.object.sha256,
                content_type=derivative.object.content_type,
                size=derivative.object.size,
            )
            for kind, derivative in latest.items()
        ],
        update_conflicts=True,
        unique_fields=["file", "kind"],
        update_fields=["sha256", "content_type", "size"],
    )
