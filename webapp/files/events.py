"""Applying lifecycle events to the catalog: proto in, service call out.

The only module of the files app that reads the generated messages. Every event is
idempotent: a repeated or out-of-order one changes nothing (see the services).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.utils import timezone
from google.protobuf import json_format
from google.protobuf import message as protobuf_message

from usp import events
from usp.storage_client import DispatchedJob, object_from_proto
from usp.v1 import common_pb2, processor_service_pb2, storage_service_pb2
from webapp.core.errors import NotFound
from webapp.files import processing, services

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=protobuf_message.Message)


class UnreadableEvent(ValueError):
    """The envelope's payload is not the message its type promises."""


def event_apply(*, envelope: common_pb2.EventEnvelope) -> None:
    """Apply one event. Unknown types and files deleted meanwhile are logged and skipped."""
    handler = _HANDLERS.get(envelope.type)
    fields = {"type": envelope.type, "file_id": envelope.file_id, "job_id": envelope.job_id}
    if handler is None:
        logger.warning("event of unknown type ignored", extra={"fields": fields})
        return
    try:
        handler(envelope)
    except NotFound:
        logger.info("event for an unknown file ignored", extra={"fields": fields})


def _file_stored(envelope: common_pb2.EventEnvelope) -> None:
    payload = _unpack(envelope, storage_service_pb2.FileStored())
    services.file_mark_stored(
        file_id=envelope.file_id,
        stored=object_from_proto(payload.object),
        jobs=[DispatchedJob(job.job_id, job.step) for job in payload.jobs],
    )


def _upload_ended(envelope: common_pb2.EventEnvelope) -> None:
    payload = _unpack(envelope, storage_service_pb2.UploadEnded())
    if payload.reason not in services.UPLOAD_END_REASONS:
        raise UnreadableEvent(f"{envelope.type} with an unknown reason {payload.reason[:64]!r}")
    services.upload_ended_record(
        file_id=envelope.file_id,
        reason=payload.reason,
        error=_error_text(payload.error, default=""),
    )


def _job_started(envelope: common_pb2.EventEnvelope) -> None:
    payload = _unpack(envelope, processor_service_pb2.JobStarted())
    processing.job_started_record(event=_job_event(envelope, payload.step, payload.attempt))


def _job_succeeded(envelope: common_pb2.EventEnvelope) -> None:
    payload = _unpack(envelope, processor_service_pb2.JobSucceeded())
    processing.job_succeeded_record(
        event=_job_event(envelope, payload.step, payload.attempt, _started_at(payload)),
        metadata=_struct_to_dict(payload),
        derivatives=[
            processing.DerivativeStored(kind=item.kind, object=object_from_proto(item.object))
            for item in payload.derivatives
        ],
    )


def _job_failed(envelope: common_pb2.EventEnvelope) -> None:
    payload = _unpack(envelope, processor_service_pb2.JobFailed())
    processing.job_failed_record(
        event=_job_event(envelope, payload.step, payload.attempt, _started_at(payload)),
        failure=processing.JobFailure(
            message=_error_text(payload.error),
            code=payload.error.code[:100],
            transient=payload.error.transient,
        ),
        will_retry=payload.will_retry,
    )


_HANDLERS: dict[str, Callable[[common_pb2.EventEnvelope], None]] = {
    events.FILE_STORED: _file_stored,
    events.UPLOAD_ENDED: _upload_ended,
    events.JOB_STARTED: _job_started,
    events.JOB_SUCCEEDED: _job_succeeded,
    events.JOB_FAILED: _job_failed,
}


def _unpack(envelope: common_pb2.EventEnvelope, message: M) -> M:
    if not envelope.payload.Unpack(message):
        raise UnreadableEvent(
            f"{envelope.type} carries {envelope.payload.TypeName() or 'nothing'}, "
            f"not {message.DESCRIPTOR.full_name}"
        )
    return message


def _job_event(
    envelope: common_pb2.EventEnvelope,
    step: str,
    attempt: int,
    started_at: datetime | None = None,
) -> processing.JobEvent:
    if not envelope.job_id or not step:
        raise UnreadableEvent(f"{envelope.type} without a job id or step")
    return processing.JobEvent(
        file_id=envelope.file_id,
        job_id=envelope.job_id,
        step=step,
        attempt=attempt,
        sequence=envelope.sequence,
        occurred_at=(
            envelope.occurred_at.ToDatetime(tzinfo=UTC)
            if envelope.HasField("occurred_at")
            else timezone.now()
        ),
        started_at=started_at,
    )


def _started_at(
    payload: processor_service_pb2.JobSucceeded | processor_service_pb2.JobFailed,
) -> datetime | None:
    """When the ended attempt began; None from a processor that does not say."""
    if not payload.HasField("started_at"):
        return None
    return payload.started_at.ToDatetime(tzinfo=UTC)


def _struct_to_dict(payload: processor_service_pb2.JobSucceeded) -> dict[str, Any]:
    if not payload.HasField("metadata"):
        return {}
    return dict(_whole_numbers(json_format.MessageToDict(payload.metadata)))


def _whole_numbers(value: Any) -> Any:
    """Struct numbers are all doubles; a width of 1200 should read 1200, not 1200.0."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def _error_text(error: common_pb2.ErrorInfo, default: str = "the step failed") -> str:
    if error.code and error.message:
        return f"{error.message} ({error.code})"
    return error.message or error.code or default
