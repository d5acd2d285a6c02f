from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from processor_service import protocol
from processor_service.processing import JobError, Outcome, StoredDerivative, Task
from processor_service.steps import PermanentError
from usp.storage_client import StoredObject
from usp.v1 import common_pb2, processor_service_pb2

SHA = "ab" * 32
TASK = Task("job-1", "file-1", "metadata", StoredObject(SHA, 12, "text/plain"))
STARTED_AT = Timestamp(seconds=1_790_000_000, nanos=250_000_000)
STARTED_AT_JSON = "2026-09-21T14:13:20.250Z"


def test_task_in_the_json_form_storage_enqueues_is_parsed() -> None:
    message = processor_service_pb2.ProcessTask(
        job_id="job-1",
        file_id="file-1",
        step="metadata",
        input=common_pb2.ObjectInfo(
            checksum=common_pb2.Checksum(sha256=SHA), size=12, content_type="text/plain"
        ),
    )
    payload = json_format.MessageToDict(message, preserving_proto_field_name=True)

    assert protocol.parse_task(payload) == TASK


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ("not a dict", "not a ProcessTask"),
        ({"job_id": "j", "unknown": 1}, "not a ProcessTask"),
        ({"job_id": "j", "file_id": "f", "step": "metadata"}, "lacks input.checksum.sha256"),
        ({"input": {"checksum": {"sha256": SHA}}}, "lacks job_id, file_id, step"),
    ],
)
def test_malformed_task_is_a_permanent_error(payload: Any, detail: str) -> None:
    with pytest.raises(PermanentError) as caught:
        protocol.parse_task(payload)

    assert caught.value.code == "malformed_task"
    assert detail in caught.value.message


def test_succeeded_event_carries_metadata_and_derivatives_at_the_attempts_sequence() -> None:
    outcome = Outcome(
        metadata={"width": 3, "exif": {"Make": "X", "gps": {"GPSLatitude": [1.0, 2.0]}}},
        derivatives=[StoredDerivative("thumbnail-256", StoredObject("cd" * 32, 5, "image/webp"))],
    )

    envelope = protocol.job_succeeded(TASK, attempt=2, outcome=outcome, started_at=STARTED_AT)

    assert (envelope.type, envelope.file_id, envelope.job_id, envelope.sequence) == (
        "job.succeeded",
        "file-1",
        "job-1",
        22,
    )
    succeeded = processor_service_pb2.JobSucceeded()
    assert envelope.payload.Unpack(succeeded)
    assert json_format.MessageToDict(succeeded, preserving_proto_field_name=True) == {
        "attempt": 2,
        "step": "metadata",
        "metadata": {"width": 3.0, "exif": {"Make": "X", "gps": {"GPSLatitude": [1.0, 2.0]}}},
        "derivatives": [
            {
                "kind": "thumbnail-256",
                "object": {
                    "checksum": {"sha256": "cd" * 32},
                    "size": "5",
                    "content_type": "image/webp",
                },
            }
        ],
        "started_at": STARTED_AT_JSON,
    }


def test_failed_event_carries_the_error_and_whether_a_retry_follows() -> None:
    error = JobError("storage_unavailable", "try again", transient=True)

    envelope = protocol.job_failed(
        TASK, attempt=1, error=error, will_retry=True, started_at=STARTED_AT
    )

    failed = processor_service_pb2.JobFailed()
    assert envelope.payload.Unpack(failed)
    assert (envelope.type, envelope.sequence) == ("job.failed", 12)
    assert json_format.MessageToDict(failed, preserving_proto_field_name=True) == {
        "attempt": 1,
        "step": "metadata",
        "error": {"code": "storage_unavailable", "message": "try again", "transient": True},
        "will_retry": True,
        "started_at": STARTED_AT_JSON,
    }


def test_a_forced_task_is_parsed_as_forced() -> None:
    message = processor_service_pb2.ProcessTask(
        job_id="job-1",
        file_id="file-1",
        step="metadata",
        input=common_pb2.ObjectInfo(checksum=common_pb2.Checksum(sha256=SHA)),
        force=True,
    )

    task = protocol.parse_task(json_format.MessageToDict(message, preserving_proto_field_name=True))

    assert (task.job_id, task.force) == ("job-1", True)


def test_a_reused_result_is_marked_reused_in_the_succeeded_event() -> None:
    outcome = Outcome(metadata={}, derivatives=[], reused=True)

    envelope = protocol.job_succeeded(TASK, attempt=1, outcome=outcome, started_at=STARTED_AT)

    succeeded = processor_service_pb2.JobSucceeded()
    assert envelope.payload.Unpack(succeeded)
    assert json_format.MessageToDict(succeeded, preserving_proto_field_name=True) == {
        "attempt": 1,
        "step": "metadata",
        "reused": True,
        "metadata": {},
        "started_at": STARTED_AT_JSON,
    }
