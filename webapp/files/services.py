"""Writes to the file catalog: uploads, deletion, and the outcome of processing.

Database transactions are kept short and never span a call to the storage service.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, cast

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from usp.errors import ServiceError
from usp.storage_client import DispatchedJob, StoredObject, WriteResult, iter_chunks
from webapp.accounts.models import User
from webapp.core.errors import InvalidInput, NotFound
from webapp.files.models import Derivative, File, FileState, Job, JobState
from webapp.files.storage import get_storage_client, storage_error

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 255
PIPELINE_MAX_STEPS = 16
_STEP_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_UNFINISHED = (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True)
class JobEvent:
    """What every job event says: which job, which attempt, and when."""

    file_id: str
    job_id: str
    step: str
    attempt: int
    sequence: int
    occurred_at: datetime


@dataclass(frozen=True)
class DerivativeStored:
    kind: str
    object: StoredObject


# --- names and pipelines -------------------------------------------------------------


def file_name_sanitize(raw: str) -> str:
    """A display name: no directories, no control characters, at most 255 characters."""
    base = re.split(r"[/\\]", raw or "")[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if cleaned in ("", ".", ".."):
        return "unnamed"
    if len(cleaned) <= NAME_MAX_LENGTH:
        return cleaned
    stem, dot, extension = cleaned.rpartition(".")
    if dot and 0 < len(extension) <= 16:
        return stem[: NAME_MAX_LENGTH - len(extension) - 1] + "." + extension
    return cleaned[:NAME_MAX_LENGTH]


def pipeline_parse(*, text: str) -> list[str]:
    """Comma-separated step names as a list (empty: storage picks the default)."""
    steps = [step.strip() for step in text.split(",") if step.strip()]
    invalid = [step for step in steps if not _STEP_NAME.match(step)]
    if invalid:
        raise InvalidInput(
            f"Invalid step name: {invalid[0][:64]!r}.",
            code="invalid_pipeline",
            fields={"pipeline": ["Step names are lowercase letters, digits, '.', '_', '-'."]},
        )
    if len(steps) > PIPELINE_MAX_STEPS:
        raise InvalidInput(f"At most {PIPELINE_MAX_STEPS} steps.", code="invalid_pipeline")
    return list(dict.fromkeys(steps))


# --- uploads ---------------------------------------------------------------------------


@transaction.atomic
def file_create(*, owner: User, name: str) -> File:
    """A catalog entry waiting for its bytes."""
    return File.objects.create(owner=owner, name=file_name_sanitize(name))


def file_upload(*, owner: User, uploaded_file: UploadedFile, pipeline: Sequence[str] = ()) -> File:
    """Stream an upload to storage and record it; on failure nothing claims to exist."""
    file = file_create(owner=owner, name=uploaded_file.name or "")
    try:
        result = _write_original(file, uploaded_file, pipeline)
    except ServiceError as error:
        File.objects.filter(pk=file.pk).delete()
        logger.warning(
            "upload not stored",
            extra={"fields": {"file_id": file.pk, "status": error.status.name}},
        )
        raise storage_error(error) from error
    logger.info(
        "upload stored",
        extra={
            "fields": {
                "file_id": file.pk,
                "size": result.object.size,
                "jobs": len(result.jobs),
                "created": result.created,
            }
        },
    )
    return file_mark_stored(file_id=file.pk, stored=result.object, jobs=result.jobs)


def _write_original(
    file: File, uploaded_file: UploadedFile, pipeline: Sequence[str]
) -> WriteResult:
    uploaded_file.seek(0)
    return get_storage_client().write_object(
        iter_chunks(cast(BinaryIO, uploaded_file)),
        file_id=str(file.pk),
        name=file.name,
        declared_size=uploaded_file.size,
        pipeline=pipeline,
    )


@transaction.atomic
def file_mark_stored(
    *, file_id: uuid.UUID | str, stored: StoredObject, jobs: Sequence[DispatchedJob]
) -> File:
    """Record the committed object and its dispatched jobs; repeating it changes nothing,
    and a file already further along keeps its state."""
    file = _file_locked(file_id)
    file.size = stored.size
    file.sha256 = stored.sha256
    file.content_type = stored.content_type
    if file.state == FileState.AWAITING_UPLOAD:
        file.state = FileState.STORED
    for position, dispatched in enumerate(jobs):
        _job_ensure(file, dispatched, position)
    _file_state_refresh(file)
    file.save(update_fields=["size", "sha256", "content_type", "state", "updated_at"])
    return file


def _job_ensure(file: File, dispatched: DispatchedJob, position: int) -> None:
    job, created = Job.objects.get_or_create(
        id=dispatched.job_id,
        defaults={"file": file, "step": dispatched.step, "position": position},
    )
    if not created and job.position != position:
        Job.objects.filter(pk=job.pk).update(position=position)


# --- deletion --------------------------------------------------------------------------


def file_delete(*, file: File) -> None:
    """Forget the file in storage, then in the catalog; if storage cannot be reached the
    row stays, so the user can try again."""
    try:
        get_storage_client().delete_file(str(file.pk))
    except ServiceError as error:
        if error.http_status != 404:
            raise storage_error(error) from error
    _file_row_delete(file)
    logger.info("file deleted", extra={"fields": {"file_id": file.pk}})


@transaction.atomic
def _file_row_delete(file: File) -> None:
    File.objects.filter(pk=file.pk).delete()


# --- processing outcomes ---------------------------------------------------------------


@transaction.atomic
def job_started_record(*, event: JobEvent) -> Job | None:
    """An attempt began; None when the event is stale or a duplicate."""
    file, job = _job_for_event(event)
    if job is None:
        return None
    job.state = JobState.RUNNING
    job.attempts = max(job.attempts, event.attempt)
    job.error = ""
    job.started_at = event.occurred_at
    job.finished_at = None
    _job_save_and_refresh(file, job)
    return job


@transaction.atomic
def job_succeeded_record(
    *, event: JobEvent, metadata: dict[str, Any], derivatives: Sequence[DerivativeStored]
) -> Job | None:
    """The step finished: its metadata goes under the step's name, its derivatives are
    recorded (once per kind); None when the event is stale or a duplicate."""
    file, job = _job_for_event(event)
    if job is None:
        return None
    job.state = JobState.SUCCEEDED
    job.attempts = max(job.attempts, event.attempt)
    job.error = ""
    job.finished_at = event.occurred_at
    file.metadata = {**file.metadata, job.step: metadata}
    for derivative in derivatives:
        _derivative_upsert(file, derivative)
    _job_save_and_refresh(file, job)
    return job


@transaction.atomic
def job_failed_record(*, event: JobEvent, error: str, will_retry: bool) -> Job | None:
    """An attempt failed: queued again with the error shown when it will be retried,
    failed for good otherwise; None when the event is stale or a duplicate."""
    file, job = _job_for_event(event)
    if job is None:
        return None
    job.state = JobState.QUEUED if will_retry else JobState.FAILED
    job.attempts = max(job.attempts, event.attempt)
    job.error = error
    job.finished_at = None if will_retry else event.occurred_at
    _job_save_and_refresh(file, job)
    return job


def _job_for_event(event: JobEvent) -> tuple[File, Job | None]:
    """The file and job, locked in that order; the job is None when the event is not
    newer than the last one applied to it. Raises NotFound for an unknown file."""
    file = _file_locked(event.file_id)
    job = Job.objects.select_for_update().filter(pk=_uuid(event.job_id)).first()
    if job is None:
        job = Job(id=_uuid(event.job_id), file=file, step=event.step, last_sequence=-1)
        job.position = file.jobs.count()
    if event.sequence <= job.last_sequence:
        logger.info(
            "stale job event ignored",
            extra={"fields": {"job_id": event.job_id, "sequence": event.sequence}},
        )
        return file, None
    job.last_sequence = event.sequence
    return file, job


def _job_save_and_refresh(file: File, job: Job) -> None:
    job.save()
    _file_state_refresh(file)
    file.save(update_fields=["state", "metadata", "updated_at"])


def _derivative_upsert(file: File, derivative: DerivativeStored) -> None:
    Derivative.objects.update_or_create(
        file=file,
        kind=derivative.kind,
        defaults={
            "sha256": derivative.object.sha256,
            "content_type": derivative.object.content_type,
            "size": derivative.object.size,
        },
    )


def _file_state_refresh(file: File) -> None:
    """A stored file's state follows its jobs; one still waiting for bytes keeps it."""
    if file.state == FileState.AWAITING_UPLOAD:
        return
    file.state = file_state_from_jobs(list(file.jobs.values_list("state", flat=True)))


def file_state_from_jobs(states: Sequence[str]) -> FileState:
    if not states:
        return FileState.STORED
    if any(state in _UNFINISHED for state in states):
        return FileState.PROCESSING
    if all(state == JobState.SUCCEEDED for state in states):
        return FileState.READY
    return FileState.FAILED


def _file_locked(file_id: uuid.UUID | str) -> File:
    file = File.objects.select_for_update().filter(pk=_uuid(file_id)).first()
    if file is None:
        raise NotFound("No such file.", code="file_not_found")
    return file


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound("No such file or job.", code="not_found") from exc
