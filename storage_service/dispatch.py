"""The wire form of what storage dispatches: job messages, file.stored and upload.ended.

This is the one domain-side module that builds protobuf messages, because they are
the contract with the processor and the event consumers.
"""

from __future__ import annotations

from collections.abc import Sequence

import dramatiq
from google.protobuf.json_format import MessageToDict

from storage_service.records import Job, ObjectInfo, OutboxEntry
from usp import events, jobs
from usp.v1 import common_pb2, processor_service_pb2, storage_service_pb2

JOB = "job"
EVENT = "event"


def object_info_proto(obj: ObjectInfo) -> common_pb2.ObjectInfo:
    return common_pb2.ObjectInfo(
        checksum=common_pb2.Checksum(sha256=obj.sha256),
        size=obj.size,
        content_type=obj.content_type,
    )


def job_message(
    *, job: Job, file_id: str, obj: ObjectInfo, queue_name: str, force: bool = False
) -> dramatiq.Message:
    """The Dramatiq message that runs one step on `queue_name`; its id is the job id.
    `force` asks the processor to compute even when it remembers a result."""
    task = processor_service_pb2.ProcessTask(
        job_id=job.job_id, file_id=file_id, step=job.step, input=object_info_proto(obj), force=force
    )
    return dramatiq.Message(
        queue_name=queue_name,
        actor_name=jobs.PROCESS_ACTOR,
        args=(MessageToDict(task, preserving_proto_field_name=True),),
        kwargs={},
        options={},
        message_id=job.job_id,
    )


def file_stored_event(*, file_id: str, obj: ObjectInfo, dispatched: Sequence[Job]) -> bytes:
    payload = storage_service_pb2.FileStored(
        object=object_info_proto(obj),
        jobs=[common_pb2.JobRef(job_id=job.job_id, step=job.step) for job in dispatched],
    )
    envelope = events.make_envelope(events.FILE_STORED, file_id=file_id, payload=payload)
    return events.encode(envelope)


def outbox_entries(
    *, file_id: str, obj: ObjectInfo, dispatched: Sequence[Job], namespace: str
) -> list[OutboxEntry]:
    """The event first, then one message per job, in pipeline order."""
    event = file_stored_event(file_id=file_id, obj=obj, dispatched=dispatched)
    entries = [OutboxEntry(EVENT, event)]
    for job in dispatched:
        message = job_message(
            job=job, file_id=file_id, obj=obj, queue_name=jobs.process_queue(namespace)
        )
        entries.append(OutboxEntry(JOB, message.encode()))
    return entries


def rerun_entries(
    *,
    file_id: str,
    obj: ObjectInfo,
    requested: Sequence[Job],
    dispatched: Sequence[Job],
    queue_name: str,
) -> list[OutboxEntry]:
    """One message per job of a retry or reprocess. A job asked for without an id (a
    reprocess) is forced: remembered results would only repeat what it replaces."""
    return [
        OutboxEntry(
            JOB,
            job_message(
                job=job, file_id=file_id, obj=obj, queue_name=queue_name, force=not asked.job_id
            ).encode(),
        )
        for asked, job in zip(requested, dispatched, strict=True)
    ]


def upload_ended_event(*, file_id: str, reason: str, code: str = "", message: str = "") -> bytes:
    """ "upload.ended": a session closed without storing anything ("aborted", "expired",
    "rejected"); a rejection carries why in `code` and `message`."""
    payload = storage_service_pb2.UploadEnded(reason=reason)
    if code:
        payload.error.CopyFrom(common_pb2.ErrorInfo(code=code, message=message, transient=False))
    envelope = events.make_envelope(events.UPLOAD_ENDED, file_id=file_id, payload=payload)
    return events.encode(envelope)


def upload_ended_entry(
    *, file_id: str, reason: str, code: str = "", message: str = ""
) -> OutboxEntry:
    return OutboxEntry(
        EVENT, upload_ended_event(file_id=file_id, reason=reason, code=code, message=message)
    )
