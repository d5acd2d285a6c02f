"""Writes to the file catalog: uploads, their outcome, and deletion.

Database transactions are kept short and never span a call to the storage service.
Every file counts against its owner's quotas from its reservation until it is deleted
or its upload ends without bytes; `File.charged_bytes` says what it counts, so each
release happens exactly once.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from typing import BinaryIO, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from usp.errors import ServiceError
from usp.storage_client import (
    DispatchedJob,
    ObjectWrite,
    StoredObject,
    WriteResult,
    iter_chunks,
)
from webapp.accounts.models import User
from webapp.accounts.services import usage_charge, usage_release, usage_reserve
from webapp.core.errors import InvalidInput
from webapp.files.catalog import as_uuid, by_key, file_jobs_with, file_locked, file_state_follow
from webapp.files.models import File, FileState, Job
from webapp.files.policy import file_name_sanitize, upload_size_check, upload_type_check
from webapp.files.storage import get_storage_client, storage_error

__all__ = [
    "StreamedFile",
    "file_delete",
    "file_discard",
    "file_mark_stored",
    "file_name_sanitize",
    "file_reserve",
    "file_upload",
    "pipeline_parse",
    "pipeline_validate",
    "upload_admit",
    "upload_ended_record",
]

logger = logging.getLogger(__name__)

PIPELINE_MAX_STEPS = 16
_STEP_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

UPLOAD_ABORTED = "aborted"
UPLOAD_EXPIRED = "expired"
UPLOAD_REJECTED = "rejected"
UPLOAD_END_REASONS = (UPLOAD_ABORTED, UPLOAD_EXPIRED, UPLOAD_REJECTED)
EXPIRED_ERROR = "The upload expired before all of its bytes arrived."


# --- pipelines -------------------------------------------------------------------------


def pipeline_parse(*, text: str) -> list[str]:
    """Comma-separated step names as a list (empty: storage picks the default)."""
    return pipeline_validate(steps=text.split(","))


def pipeline_validate(*, steps: Sequence[str]) -> list[str]:
    """Step names, stripped, without blanks and repeats; InvalidInput for a bad one."""
    names = [step.strip() for step in steps if step.strip()]
    invalid = [name for name in names if not _STEP_NAME.match(name)]
    if invalid:
        raise InvalidInput(
            f"Invalid step name: {invalid[0][:64]!r}.",
            code="invalid_pipeline",
            fields={"pipeline": ["Step names are lowercase letters, digits, '.', '_', '-'."]},
        )
    if len(names) > PIPELINE_MAX_STEPS:
        raise InvalidInput(f"At most {PIPELINE_MAX_STEPS} steps.", code="invalid_pipeline")
    return list(dict.fromkeys(names))


# --- reservations ----------------------------------------------------------------------


def upload_admit(*, name: str, size: int) -> None:
    """The checks before any byte moves: TooLarge past USP_MAX_UPLOAD_SIZE,
    TypeNotAllowed when the name claims a type outside USP_ALLOWED_TYPES."""
    upload_size_check(size)
    upload_type_check(file_name_sanitize(name))


@transaction.atomic
def file_reserve(*, owner: User, name: str, size: int) -> File:
    """A catalog entry waiting for its `size` bytes, counted against the owner's quotas;
    QuotaExceeded (and nothing created) when they would be passed."""
    usage_reserve(user=owner, size=size)
    return File.objects.create(owner=owner, name=file_name_sanitize(name), charged_bytes=size)


@transaction.atomic
def file_discard(*, file_id: uuid.UUID | str) -> bool:
    """Delete the catalog entry and release what it counted; False when it was gone."""
    file = by_key(File.objects.select_for_update().filter(pk=as_uuid(file_id)))
    if file is None:
        return False
    _charge_release(file)
    file.delete()
    return True


def _charge_release(file: File) -> None:
    if file.charged_bytes is not None:
        usage_release(user_id=file.owner_id, size=file.charged_bytes)
        file.charged_bytes = None


def _charge_settle(file: File, size: int) -> None:
    """A file whose bytes are stored counts their size: charged again if its reservation
    was released, the rest of a reservation made for more (a streamed form's whole
    length) given back."""
    if file.charged_bytes is None:
        usage_charge(user_id=file.owner_id, size=size)
    elif file.charged_bytes > size:
        usage_release(user_id=file.owner_id, size=file.charged_bytes - size, files=0)
    file.charged_bytes = size


# --- uploads through the webapp --------------------------------------------------------


class StreamedFile(UploadedFile):
    """A form's file whose bytes went to storage while the form was parsed: its catalog
    entry is reserved and the write waits for `finish` (webapp.files.streaming)."""

    def __init__(self, entry: File, write: ObjectWrite) -> None:
        super().__init__(file=None, name=entry.name, size=0)
        self.entry = entry
        self._write = write
        self._ended = False

    def send(self, data: bytes) -> None:
        self._write.send(data)

    def finish(self, pipeline: Sequence[str]) -> WriteResult:
        self._ended = True
        return self._write.finish(pipeline)

    def close(self) -> None:
        """Unless `finish` ran: cancel the write and forget the entry, releasing its
        reservation. Django closes every uploaded file when the response ends."""
        if not self._ended:
            self._ended = True
            self._write.cancel()
            file_discard(file_id=self.entry.pk)


def file_upload(*, owner: User, uploaded_file: UploadedFile, pipeline: Sequence[str] = ()) -> File:
    """Check, reserve, stream an upload to storage and record it; on any failure nothing
    claims to exist and nothing stays counted. A StreamedFile is reserved and streamed
    already: it only needs finishing."""
    if isinstance(uploaded_file, StreamedFile):
        streamed = uploaded_file
        return _file_store(streamed.entry, lambda: streamed.finish(pipeline))
    name = file_name_sanitize(uploaded_file.name or "")
    size = uploaded_file.size or 0
    upload_admit(name=name, size=size)
    file = file_reserve(owner=owner, name=name, size=size)
    return _file_store(file, lambda: _write_original(file, uploaded_file, pipeline))


def _file_store(file: File, write: Callable[[], WriteResult]) -> File:
    """Record what `write` stored for the reserved `file`, or discard the file."""
    try:
        result = write()
    except BaseException as exc:
        file_discard(file_id=file.pk)
        if isinstance(exc, ServiceError):
            logger.warning(
                "upload not stored",
                extra={"fields": {"file_id": file.pk, "status": exc.status.name}},
            )
            raise storage_error(exc) from exc
        raise
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
        declared_size=uploaded_file.size or 0,
        pipeline=pipeline,
        allowed_types=settings.USP.allowed_types,
    )


# --- outcomes of uploads ---------------------------------------------------------------


@transaction.atomic
def file_mark_stored(
    *, file_id: uuid.UUID | str, stored: StoredObject, jobs: Sequence[DispatchedJob]
) -> File:
    """Record the committed object and its dispatched jobs; repeating it changes nothing,
    and a file already further along keeps its state."""
    file = file_locked(file_id)
    file.size = stored.size
    file.sha256 = stored.sha256
    file.content_type = stored.content_type
    file.error = ""
    _charge_settle(file, stored.size)
    if file.state == FileState.AWAITING_UPLOAD:
        file.state = FileState.STORED
    file_state_follow(file, _jobs_ensure(file, jobs).values())
    file.save(
        update_fields=[
            "size",
            "sha256",
            "content_type",
            "error",
            "charged_bytes",
            "state",
            "updated_at",
        ]
    )
    return file


def _jobs_ensure(file: File, dispatched: Sequence[DispatchedJob]) -> dict[uuid.UUID, Job]:
    """Each dispatched job exists at its position: created, queued, when new (one insert
    for all), moved when a job event created it first. Returns the file's jobs, history
    included, and the dispatched ones, by id."""
    ids = [uuid.UUID(job.job_id) for job in dispatched]
    jobs = file_jobs_with(file, ids)
    created: list[Job] = []
    for position, (job_id, job_ref) in enumerate(zip(ids, dispatched, strict=True)):
        job = jobs.get(job_id)
        if job is None:
            job = jobs[job_id] = Job(id=job_id, file=file, step=job_ref.step, position=position)
            created.append(job)
        elif job.position != position:
            job.position = position
            if not job._state.adding:
                Job.objects.filter(pk=job_id).update(position=position)
    Job.objects.bulk_create(created)
    return jobs


@transaction.atomic
def upload_ended_record(*, file_id: uuid.UUID | str, reason: str, error: str = "") -> File | None:
    """An upload ended without bytes: aborted -> the file is deleted; expired -> it is
    marked expired; rejected -> it failed with `error`. Its reservation is released
    each time. A file no longer awaiting its bytes is left as it is. Returns the file,
    or None when it was deleted."""
    file = file_locked(file_id)
    if file.state != FileState.AWAITING_UPLOAD:
        logger.info(
            "upload end ignored: the file is not awaiting its bytes",
            extra={"fields": {"file_id": file.pk, "reason": reason, "state": file.state}},
        )
        return file
    _charge_release(file)
    logger.info("upload ended", extra={"fields": {"file_id": file.pk, "reason": reason}})
    if reason == UPLOAD_ABORTED:
        file.delete()
        return None
    file.state = FileState.EXPIRED if reason == UPLOAD_EXPIRED else FileState.FAILED
    file.error = EXPIRED_ERROR if reason == UPLOAD_EXPIRED else (error or "Upload rejected.")
    file.save(update_fields=["state", "error", "charged_bytes", "updated_at"])
    return file


# --- deletion --------------------------------------------------------------------------


def file_delete(*, file: File) -> None:
    """Forget the file in storage (ending its upload if it is unfinished), then in the
    catalog, releasing what it counted; if storage cannot be reached the row stays, so
    the user can try again."""
    client = get_storage_client()
    if file.state == FileState.AWAITING_UPLOAD:
        _tolerating_not_found(lambda: client.abort_upload_session(str(file.pk)))
    _tolerating_not_found(lambda: client.delete_file(str(file.pk)))
    file_discard(file_id=file.pk)
    logger.info("file deleted", extra={"fields": {"file_id": file.pk}})


def _tolerating_not_found(call: Callable[[], object]) -> None:
    try:
        call()
    except ServiceError as error:
        if error.http_status != 404:
            raise storage_error(error) from error
