"""Catalog rows to ApiService messages: the only place the two vocabularies meet."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from usp.v1 import api_service_pb2, common_pb2
from webapp.files.links import derivative_content_path
from webapp.files.models import Derivative, ErrorClass, File, FileState, Job, JobState
from webapp.usercontent.links import usercontent_link

FILE_STATES: dict[str, common_pb2.FileState] = {
    FileState.AWAITING_UPLOAD: common_pb2.FILE_STATE_AWAITING_UPLOAD,
    FileState.STORED: common_pb2.FILE_STATE_STORED,
    FileState.PROCESSING: common_pb2.FILE_STATE_PROCESSING,
    FileState.READY: common_pb2.FILE_STATE_READY,
    FileState.FAILED: common_pb2.FILE_STATE_FAILED,
    FileState.EXPIRED: common_pb2.FILE_STATE_EXPIRED,
}
JOB_STATES: dict[str, common_pb2.JobState] = {
    JobState.QUEUED: common_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: common_pb2.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: common_pb2.JOB_STATE_SUCCEEDED,
    JobState.FAILED: common_pb2.JOB_STATE_FAILED,
}
ERROR_CLASSES: dict[str, api_service_pb2.ErrorClass] = {
    ErrorClass.TRANSIENT: api_service_pb2.ERROR_CLASS_TRANSIENT,
    ErrorClass.PERMANENT: api_service_pb2.ERROR_CLASS_PERMANENT,
}


def file_to_proto(file: File, *, public_url: str = "") -> api_service_pb2.File:
    """The message for a file; its jobs and derivatives are read through the relations
    (prefetch them for lists)."""
    message = api_service_pb2.File(
        id=str(file.id),
        name=file.name,
        size=file.size or 0,
        content_type=file.content_type,
        sha256=file.sha256,
        state=FILE_STATES.get(file.state, common_pb2.FILE_STATE_UNSPECIFIED),
        metadata=metadata_struct(file.metadata),
        jobs=[job_to_proto(job) for job in file.jobs.all()],
        derivatives=[
            derivative_to_proto(derivative, file=file, public_url=public_url)
            for derivative in file.derivatives.all()
        ],
    )
    message.created_at.CopyFrom(timestamp(file.created_at))
    return message


def job_to_proto(job: Job) -> api_service_pb2.Job:
    message = api_service_pb2.Job(
        id=str(job.id),
        step=job.step,
        state=JOB_STATES.get(job.state, common_pb2.JOB_STATE_UNSPECIFIED),
        attempts=job.attempts,
        error=job.error,
        error_code=job.error_code,
        error_class=ERROR_CLASSES.get(job.error_class, api_service_pb2.ERROR_CLASS_UNSPECIFIED),
    )
    if job.started_at is not None:
        message.started_at.CopyFrom(timestamp(job.started_at))
    if job.finished_at is not None:
        message.finished_at.CopyFrom(timestamp(job.finished_at))
    return message


def derivative_to_proto(
    derivative: Derivative, *, file: File, public_url: str = ""
) -> api_service_pb2.DerivativeLink:
    return api_service_pb2.DerivativeLink(
        kind=derivative.kind,
        content_type=derivative.content_type,
        size=derivative.size,
        url=derivative_url(file=file, kind=derivative.kind, public_url=public_url),
    )


def derivative_url(*, file: File, kind: str, public_url: str) -> str:
    """A signed link on the user-content origin when one is set; else the REST download
    address, absolute under the public URL, or empty without one, since a gRPC call has
    no Host header to build it from."""
    link = usercontent_link(file=file, kind=kind)
    if link or not public_url:
        return link
    return public_url.rstrip("/") + derivative_content_path(file, kind)


def metadata_struct(metadata: Any) -> struct_pb2.Struct:
    """A JSON object as a Struct; anything else (a legacy scalar) goes under "value"."""
    struct = struct_pb2.Struct()
    plain = json.loads(json.dumps(metadata or {}, default=str))
    struct.update(plain if isinstance(plain, dict) else {"value": plain})
    return struct


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message
