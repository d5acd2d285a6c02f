from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf import struct_pb2

from usp import events
from usp.v1 import common_pb2, processor_service_pb2, storage_service_pb2
from webapp.accounts.models import User
from webapp.files.events import UnreadableEvent, event_apply
from webapp.files.models import Derivative, ErrorClass, File, FileState, Job, JobState
from webapp.files.processing import retry_estimate
from webapp.files.tests.factories import file_make

pytestmark = pytest.mark.django_db

SHA = "ab" * 32
THUMB_SHA = "cd" * 32


def info(sha: str = SHA, size: int = 120, content_type: str = "image/png") -> common_pb2.ObjectInfo:
    return common_pb2.ObjectInfo(
        checksum=common_pb2.Checksum(sha256=sha), size=size, content_type=content_type
    )


def stored(file: File, jobs: dict[str, str]) -> common_pb2.EventEnvelope:
    payload = storage_service_pb2.FileStored(
        object=info(), jobs=[common_pb2.JobRef(job_id=job, step=step) for step, job in jobs.items()]
    )
    return events.make_envelope(events.FILE_STORED, file_id=str(file.id), payload=payload)


def started(file: File, job_id: str, step: str, attempt: int = 1) -> common_pb2.EventEnvelope:
    payload = processor_service_pb2.JobStarted(attempt=attempt, step=step)
    return events.make_envelope(
        events.JOB_STARTED, file_id=str(file.id), job_id=job_id, payload=payload, attempt=attempt
    )


def succeeded(
    file: File,
    job_id: str,
    step: str,
    metadata: dict[str, Any] | None = None,
    derivatives: list[common_pb2.Derivative] | None = None,
    attempt: int = 1,
    began: datetime | None = None,
) -> common_pb2.EventEnvelope:
    struct = struct_pb2.Struct()
    struct.update(metadata or {})
    payload = processor_service_pb2.JobSucceeded(
        attempt=attempt, step=step, metadata=struct, derivatives=derivatives or []
    )
    if began is not None:
        payload.started_at.FromDatetime(began)
    return events.make_envelope(
        events.JOB_SUCCEEDED, file_id=str(file.id), job_id=job_id, payload=payload, attempt=attempt
    )


def failed(
    file: File,
    job_id: str,
    step: str,
    *,
    will_retry: bool,
    attempt: int = 1,
    began: datetime | None = None,
) -> common_pb2.EventEnvelope:
    payload = processor_service_pb2.JobFailed(
        attempt=attempt,
        step=step,
        error=common_pb2.ErrorInfo(
            code="not_an_image",
            message="The file is not an image",
            transient=will_retry,
        ),
        will_retry=will_retry,
    )
    if began is not None:
        payload.started_at.FromDatetime(began)
    return events.make_envelope(
        events.JOB_FAILED, file_id=str(file.id), job_id=job_id, payload=payload, attempt=attempt
    )


def apply(*envelopes: common_pb2.EventEnvelope) -> None:
    for envelope in envelopes:
        event_apply(envelope=envelope)


@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_user("owner", "owner@example.com", "pw")


@pytest.fixture
def uploaded(owner: User) -> File:
    return file_make(owner=owner, name="p.png", state=FileState.AWAITING_UPLOAD)


@pytest.fixture
def job_ids() -> dict[str, str]:
    return {step: str(uuid.uuid4()) for step in ("metadata", "checksum", "image.thumbnail")}


def states(file: File) -> dict[str, str]:
    return {job.step: job.state for job in file.jobs.all()}


def test_file_stored_records_the_object_and_queues_its_jobs_in_order(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    apply(stored(uploaded, job_ids))

    uploaded.refresh_from_db()
    assert (uploaded.state, uploaded.sha256, uploaded.size, uploaded.content_type) == (
        FileState.PROCESSING,
        SHA,
        120,
        "image/png",
    )
    assert [
        (str(job.id), job.step, job.state, job.last_sequence) for job in uploaded.jobs.all()
    ] == [(job_ids[step], step, JobState.QUEUED, 0) for step in job_ids]


def test_full_lifecycle_reaches_ready_with_metadata_merged_and_derivatives_recorded(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    thumbnail = common_pb2.Derivative(
        kind="thumbnail-256", object=info(THUMB_SHA, 512, "image/webp")
    )
    apply(stored(uploaded, job_ids))
    for step, job_id in job_ids.items():
        apply(started(uploaded, job_id, step))
    uploaded.refresh_from_db()
    assert (uploaded.state, set(states(uploaded).values())) == (
        FileState.PROCESSING,
        {JobState.RUNNING},
    )

    apply(
        succeeded(
            uploaded, job_ids["metadata"], "metadata", {"width": 2, "format": "PNG", "dpi": 72.5}
        ),
        succeeded(uploaded, job_ids["checksum"], "checksum", {"sha256": SHA}),
        succeeded(uploaded, job_ids["image.thumbnail"], "image.thumbnail", {}, [thumbnail]),
    )

    uploaded.refresh_from_db()
    assert uploaded.state == FileState.READY
    assert type(uploaded.metadata["metadata"]["width"]) is int
    assert uploaded.metadata == {
        "metadata": {"width": 2, "format": "PNG", "dpi": 72.5},
        "checksum": {"sha256": SHA},
        "image.thumbnail": {},
    }
    assert list(
        Derivative.objects.values_list("file_id", "kind", "sha256", "size", "content_type")
    ) == [(uploaded.id, "thumbnail-256", THUMB_SHA, 512, "image/webp")]
    job = uploaded.jobs.get(step="metadata")
    assert (job.state, job.attempts, job.error) == (JobState.SUCCEEDED, 1, "")
    assert job.started_at is not None and job.finished_at is not None
    assert job.started_at <= job.finished_at


def test_attempts_ended_without_a_started_event_record_when_they_began(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    checksum, metadata = job_ids["checksum"], job_ids["metadata"]
    began = datetime(2026, 11, 24, 12, 0, 0, 250_000, tzinfo=UTC)
    ended = succeeded(uploaded, checksum, "checksum", {"sha256": SHA}, began=began)
    broken = failed(
        uploaded, metadata, "metadata", will_retry=False, began=began + timedelta(seconds=1)
    )
    apply(stored(uploaded, {"checksum": checksum, "metadata": metadata}), ended, broken)

    jobs = {str(job.id): job for job in uploaded.jobs.all()}
    assert (jobs[checksum].state, jobs[checksum].started_at, jobs[checksum].finished_at) == (
        JobState.SUCCEEDED,
        began,
        ended.occurred_at.ToDatetime(tzinfo=UTC),
    )
    assert (jobs[metadata].state, jobs[metadata].started_at, jobs[metadata].finished_at) == (
        JobState.FAILED,
        began + timedelta(seconds=1),
        broken.occurred_at.ToDatetime(tzinfo=UTC),
    )
    uploaded.refresh_from_db()
    assert uploaded.state == FileState.FAILED


def test_duplicate_event_is_ignored(
    uploaded: File, job_ids: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    job_id = job_ids["metadata"]
    event = succeeded(uploaded, job_id, "metadata", {"width": 2})
    apply(stored(uploaded, {"metadata": job_id}), event)
    Job.objects.filter(pk=job_id).update(error="marker")

    with caplog.at_level(logging.INFO, logger="webapp.files.processing"):
        apply(event)

    assert Job.objects.get(pk=job_id).error == "marker"
    assert [r.getMessage() for r in caplog.records] == ["stale job event ignored"]


def test_late_job_started_after_job_succeeded_is_ignored(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    job_id = job_ids["checksum"]
    apply(
        stored(uploaded, {"checksum": job_id}),
        succeeded(uploaded, job_id, "checksum", {"sha256": SHA}),
        started(uploaded, job_id, "checksum"),
    )

    uploaded.refresh_from_db()
    job = Job.objects.get(pk=job_id)
    assert (job.state, job.started_at, uploaded.state) == (
        JobState.SUCCEEDED,
        None,
        FileState.READY,
    )


def test_failed_thumbnail_beside_succeeded_steps_fails_the_file_with_the_job_error(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    apply(
        stored(uploaded, job_ids),
        succeeded(uploaded, job_ids["metadata"], "metadata", {"format": "?"}),
        succeeded(uploaded, job_ids["checksum"], "checksum", {"sha256": SHA}),
        failed(uploaded, job_ids["image.thumbnail"], "image.thumbnail", will_retry=False),
    )

    uploaded.refresh_from_db()
    thumbnail = uploaded.jobs.get(step="image.thumbnail")
    assert uploaded.state == FileState.FAILED
    assert (thumbnail.state, thumbnail.error, thumbnail.attempts) == (
        JobState.FAILED,
        "The file is not an image (not_an_image)",
        1,
    )
    assert thumbnail.finished_at is not None
    assert Derivative.objects.count() == 0


def test_failure_that_will_be_retried_shows_queued_with_the_error_until_it_succeeds(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    job_id = job_ids["metadata"]
    apply(
        stored(uploaded, {"metadata": job_id}),
        started(uploaded, job_id, "metadata", attempt=1),
        failed(uploaded, job_id, "metadata", will_retry=True, attempt=1),
    )
    job = Job.objects.get(pk=job_id)
    uploaded.refresh_from_db()
    assert (job.state, job.error, job.finished_at, uploaded.state) == (
        JobState.QUEUED,
        "The file is not an image (not_an_image)",
        None,
        FileState.PROCESSING,
    )

    apply(
        started(uploaded, job_id, "metadata", attempt=2),
        succeeded(uploaded, job_id, "metadata", {"width": 1}, attempt=2),
    )

    job.refresh_from_db()
    uploaded.refresh_from_db()
    assert (job.state, job.error, job.attempts, uploaded.state) == (
        JobState.SUCCEEDED,
        "",
        2,
        FileState.READY,
    )


def test_transient_failure_records_its_class_code_and_about_when_it_retries(
    uploaded: File, job_ids: dict[str, str], usp_settings: Callable[..., None]
) -> None:
    usp_settings(job_min_backoff_ms=1000, job_max_backoff_ms=60_000)
    job_id = job_ids["metadata"]
    event = failed(uploaded, job_id, "metadata", will_retry=True, attempt=3)
    apply(stored(uploaded, {"metadata": job_id}), event)

    job = Job.objects.get(pk=job_id)
    failed_at = event.occurred_at.ToDatetime(tzinfo=UTC)
    # Attempt 3 waits between 4 s and 8 s; the estimate is the middle.
    assert (job.state, job.error_code, job.error_class, job.next_retry_at) == (
        JobState.QUEUED,
        "not_an_image",
        ErrorClass.TRANSIENT,
        failed_at + timedelta(seconds=6),
    )

    apply(started(uploaded, job_id, "metadata", attempt=4))

    job.refresh_from_db()
    assert (job.state, job.error, job.error_code, job.error_class, job.next_retry_at) == (
        JobState.RUNNING,
        "",
        "",
        "",
        None,
    )


def test_retry_estimate_stays_within_the_maximum_backoff(
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(job_min_backoff_ms=1000, job_max_backoff_ms=60_000)
    now = datetime(2026, 1, 1, tzinfo=UTC)

    assert retry_estimate(attempt=1, failed_at=now) == now + timedelta(milliseconds=1500)
    assert retry_estimate(attempt=40, failed_at=now) == now + timedelta(seconds=45)
    usp_settings(job_max_backoff_ms=0)
    assert retry_estimate(attempt=1, failed_at=now) is None


def test_permanent_failure_is_failed_with_its_class_and_no_retry_time(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    job_id = job_ids["image.thumbnail"]
    apply(
        stored(uploaded, {"image.thumbnail": job_id}),
        failed(uploaded, job_id, "image.thumbnail", will_retry=False),
    )

    job = Job.objects.get(pk=job_id)
    assert (job.state, job.error_code, job.error_class, job.next_retry_at) == (
        JobState.FAILED,
        "not_an_image",
        ErrorClass.PERMANENT,
        None,
    )


def test_job_event_before_file_stored_creates_the_job_and_file_stored_keeps_it(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    job_id = job_ids["metadata"]
    apply(started(uploaded, job_id, "metadata"))
    uploaded.refresh_from_db()
    assert (uploaded.state, states(uploaded)) == (
        FileState.AWAITING_UPLOAD,
        {"metadata": JobState.RUNNING},
    )

    apply(stored(uploaded, {"metadata": job_id}))

    uploaded.refresh_from_db()
    assert (uploaded.state, states(uploaded), Job.objects.count()) == (
        FileState.PROCESSING,
        {"metadata": JobState.RUNNING},
        1,
    )


def test_file_stored_again_does_not_move_a_ready_file_backwards(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    job_id = job_ids["checksum"]
    envelope = stored(uploaded, {"checksum": job_id})
    apply(envelope, succeeded(uploaded, job_id, "checksum", {"sha256": SHA}))

    apply(envelope)

    uploaded.refresh_from_db()
    assert (uploaded.state, states(uploaded)) == (FileState.READY, {"checksum": JobState.SUCCEEDED})


def test_file_stored_without_jobs_leaves_the_file_stored(uploaded: File) -> None:
    apply(stored(uploaded, {}))

    uploaded.refresh_from_db()
    assert uploaded.state == FileState.STORED


def test_events_of_a_deleted_file_are_ignored(owner: User, job_ids: dict[str, str]) -> None:
    gone = file_make(owner=owner)
    envelopes = [
        stored(gone, job_ids),
        started(gone, job_ids["metadata"], "metadata"),
        succeeded(gone, job_ids["metadata"], "metadata", {"a": 1}),
    ]
    gone.delete()

    apply(*envelopes)

    assert (File.objects.count(), Job.objects.count()) == (0, 0)


def test_event_of_unknown_type_is_ignored(uploaded: File) -> None:
    envelope = common_pb2.EventEnvelope(type="file.renamed", file_id=str(uploaded.id))

    apply(envelope)

    uploaded.refresh_from_db()
    assert uploaded.state == FileState.AWAITING_UPLOAD


def test_event_whose_payload_does_not_match_its_type_is_unreadable(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    envelope = started(uploaded, job_ids["metadata"], "metadata")
    envelope.type = events.JOB_SUCCEEDED

    with pytest.raises(UnreadableEvent):
        apply(envelope)
    assert Job.objects.count() == 0
