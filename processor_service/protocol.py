"""The processor's protobuf edge: the task it receives and the events it publishes.

Only this module converts between the generated messages and the processor's own
dataclasses.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from processor_service.processing import JobError, Outcome, Task
from processor_service.steps import PermanentError
from usp import events
from usp.storage_client import object_from_proto, object_to_proto
from usp.v1 import common_pb2, processor_service_pb2

Envelope = common_pb2.EventEnvelope

_REQUIRED = ("job_id", "file_id", "step")


def parse_task(payload: Any) -> Task:
    """The ProcessTask in its JSON form as a Task; anything malformed is permanent."""
    message = processor_service_pb2.ProcessTask()
    try:
        json_format.ParseDict(payload, message)
    except (json_format.ParseError, TypeError, AttributeError) as error:
        raise PermanentError("malformed_task", f"the task is not a ProcessTask: {error}") from None
    missing = [name for name in _REQUIRED if not getattr(message, name)]
    if not message.input.checksum.sha256:
        missing.append("input.checksum.sha256")
    if missing:
        raise PermanentError("malformed_task", f"the task lacks {', '.join(missing)}")
    return Task(
        message.job_id,
        message.file_id,
        message.step,
        object_from_proto(message.input),
        force=message.force,
    )


def job_started(task: Task, *, attempt: int) -> Envelope:
    payload = processor_service_pb2.JobStarted(attempt=attempt, step=task.step)
    return _envelope(events.JOB_STARTED, task, payload, attempt)


def job_succeeded(task: Task, *, attempt: int, outcome: Outcome, started_at: Timestamp) -> Envelope:
    metadata = struct_pb2.Struct()
    metadata.update(outcome.metadata)
    payload = processor_service_pb2.JobSucceeded(
        attempt=attempt,
        step=task.step,
        reused=outcome.reused,
        metadata=metadata,
        derivatives=[
            common_pb2.Derivative(kind=item.kind, object=object_to_proto(item.object))
            for item in outcome.derivatives
        ],
        started_at=started_at,
    )
    return _envelope(events.JOB_SUCCEEDED, task, payload, attempt)


def job_failed(
    task: Task, *, attempt: int, error: JobError, will_retry: bool, started_at: Timestamp
) -> Envelope:
    payload = processor_service_pb2.JobFailed(
        attempt=attempt,
        step=task.step,
        error=common_pb2.ErrorInfo(
            code=error.code, message=error.message, transient=error.transient
        ),
        will_retry=will_retry,
        started_at=started_at,
    )
    return _envelope(events.JOB_FAILED, task, payload, attempt)


def _envelope(event_type: str, task: Task, payload: Any, attempt: int) -> Envelope:
    return events.make_envelope(
        event_type, file_id=task.file_id, job_id=task.job_id, payload=payload, attempt=attempt
    )
