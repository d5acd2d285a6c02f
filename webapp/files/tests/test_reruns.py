"""Retrying failed jobs, reprocessing files and listing jobs over REST, against the fake
storage service's DispatchJobs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import grpc
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from usp import events
from usp.v1 import common_pb2, processor_service_pb2
from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make
from webapp.files.events import event_apply
from webapp.files.models import ErrorClass, File, FileState, Job, JobState
from webapp.files.tests.factories import file_make, job_make
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.files.tests.resources import file_json, job_json

pytestmark = pytest.mark.django_db

ERROR = "The file is not an image (not_an_image)"


@pytest.fixture
def failed_file(user: User) -> File:
    """A file whose thumbnail failed for good after two attempts; its other step worked."""
    file = file_make(owner=user, name="p.png", content_type="image/png", state=FileState.FAILED)
    job_make(file=file, step="checksum", state=JobState.SUCCEEDED, attempts=1, last_sequence=12)
    job_make(
        file=file,
        step="image.thumbnail",
        position=1,
        state=JobState.FAILED,
        attempts=2,
        error=ERROR,
        error_code="not_an_image",
        error_class=ErrorClass.PERMANENT,
        last_sequence=22,
        started_at=timezone.now() - timedelta(seconds=2),
        finished_at=timezone.now(),
    )
    return file


def thumbnail_job(file: File) -> Job:
    return file.jobs.get(step="image.thumbnail")


def job_event(event_type: str, job: Job, attempt: int = 1) -> common_pb2.EventEnvelope:
    payloads: dict[str, Any] = {
        events.JOB_STARTED: processor_service_pb2.JobStarted(attempt=attempt, step=job.step),
        events.JOB_SUCCEEDED: processor_service_pb2.JobSucceeded(attempt=attempt, step=job.step),
    }
    return events.make_envelope(
        event_type,
        file_id=str(job.file_id),
        job_id=str(job.id),
        payload=payloads[event_type],
        attempt=attempt,
    )


def dispatched(fake_storage: FakeStorageServer) -> list[tuple[str, list[tuple[str, str]], bool]]:
    return [
        (request.file_id, [(job.job_id, job.step) for job in request.jobs], request.fresh)
        for request in fake_storage.storage.dispatches
    ]


# --- retry -------------------------------------------------------------------------------


def test_retry_of_a_failed_job_dispatches_it_again_and_queues_it_with_its_attempts_kept(
    api_client: APIClient, failed_file: File, fake_storage: FakeStorageServer
) -> None:
    job = thumbnail_job(failed_file)

    response = api_client.post(f"/api/v1/jobs/{job.id}/retry/")

    assert response.status_code == 202, response.content
    job.refresh_from_db()
    failed_file.refresh_from_db()
    assert response.json() == job_json(job)
    assert dispatched(fake_storage) == [(str(failed_file.id), [(str(job.id), job.step)], False)]
    assert (job.state, job.attempts, job.error, job.error_code, job.error_class) == (
        JobState.QUEUED,
        2,
        "",
        "",
        "",
    )
    assert (job.last_sequence, job.started_at, job.finished_at) == (0, None, None)
    assert failed_file.state == FileState.PROCESSING


def test_events_of_a_retried_job_apply_although_they_start_again_at_attempt_one(
    api_client: APIClient, failed_file: File, fake_storage: FakeStorageServer
) -> None:
    job = thumbnail_job(failed_file)
    assert api_client.post(f"/api/v1/jobs/{job.id}/retry/").status_code == 202

    event_apply(envelope=job_event(events.JOB_STARTED, job))
    job.refresh_from_db()
    assert job.state == JobState.RUNNING

    event_apply(envelope=job_event(events.JOB_SUCCEEDED, job))
    job.refresh_from_db()
    failed_file.refresh_from_db()
    assert (job.state, job.attempts, job.last_sequence) == (JobState.SUCCEEDED, 2, 12)
    assert failed_file.state == FileState.READY


@pytest.mark.parametrize("state", [JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED])
def test_retry_of_a_job_that_is_not_failed_is_a_conflict_and_dispatches_nothing(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer, state: str
) -> None:
    file = file_make(owner=user, state=FileState.PROCESSING)
    job = job_make(file=file, step="checksum", state=state)

    response = api_client.post(f"/api/v1/jobs/{job.id}/retry/")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "not_failed")
    assert Job.objects.get(pk=job.pk).state == state
    assert fake_storage.storage.dispatches == []


def test_retry_of_another_users_job_is_not_found(
    api_client: APIClient, other_user: User, fake_storage: FakeStorageServer
) -> None:
    theirs = file_make(owner=other_user, state=FileState.FAILED)
    job = job_make(file=theirs, step="checksum", state=JobState.FAILED, error="boom")

    responses = [
        api_client.post(f"/api/v1/jobs/{job.id}/retry/"),
        api_client.post(f"/api/v1/jobs/{uuid.uuid4()}/retry/"),
        api_client.post("/api/v1/jobs/not-a-uuid/retry/"),
    ]

    assert [(r.status_code, r.json()["error"]["code"]) for r in responses] == [
        (404, "not_found")
    ] * 3
    assert Job.objects.get(pk=job.pk).state == JobState.FAILED
    assert fake_storage.storage.dispatches == []


def test_retry_while_storage_is_down_is_503_and_leaves_the_job_failed(
    api_client: APIClient, failed_file: File, storage_down: str
) -> None:
    job = thumbnail_job(failed_file)
    before = Job.objects.filter(pk=job.pk).values().get()

    response = api_client.post(f"/api/v1/jobs/{job.id}/retry/")

    assert (response.status_code, response.json()["error"]["code"]) == (
        503,
        "storage_unavailable",
    )
    after = Job.objects.filter(pk=job.pk).values().get()
    assert {**after, "updated_at": None} == {**before, "updated_at": None}
    assert File.objects.get(pk=failed_file.pk).state == FileState.FAILED


def test_retry_that_storage_refuses_leaves_the_job_failed(
    api_client: APIClient, failed_file: File, fake_storage: FakeStorageServer
) -> None:
    fake_storage.storage.refuse_dispatches = (grpc.StatusCode.NOT_FOUND, "no such file")
    job = thumbnail_job(failed_file)

    response = api_client.post(f"/api/v1/jobs/{job.id}/retry/")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_in_storage")
    job.refresh_from_db()
    assert (job.state, job.error, job.last_sequence) == (JobState.FAILED, ERROR, 22)


def test_retry_of_a_superseded_job_is_a_conflict(
    api_client: APIClient, failed_file: File, fake_storage: FakeStorageServer
) -> None:
    job = thumbnail_job(failed_file)
    Job.objects.filter(pk=job.pk).update(superseded=True)

    response = api_client.post(f"/api/v1/jobs/{job.id}/retry/")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "superseded")
    assert fake_storage.storage.dispatches == []


# --- reprocess ---------------------------------------------------------------------------


def test_reprocess_runs_the_files_current_steps_as_new_jobs_replacing_the_old_ones(
    api_client: APIClient, failed_file: File, fake_storage: FakeStorageServer
) -> None:
    old = list(failed_file.jobs.values_list("id", flat=True))

    response = api_client.post(f"/api/v1/files/{failed_file.id}/reprocess/", format="json")

    assert response.status_code == 202, response.content
    (request,) = fake_storage.storage.dispatches
    assert [(job.job_id, job.step) for job in request.jobs] == [
        ("", "checksum"),
        ("", "image.thumbnail"),
    ]
    assert request.file_id == str(failed_file.id)
    current = list(failed_file.jobs.filter(superseded=False))
    assert [(job.step, job.state, job.attempts) for job in current] == [
        ("checksum", JobState.QUEUED, 0),
        ("image.thumbnail", JobState.QUEUED, 0),
    ]
    assert {job.id for job in current}.isdisjoint(old)
    assert set(failed_file.jobs.filter(superseded=True).values_list("id", flat=True)) == set(old)
    failed_file.refresh_from_db()
    assert failed_file.state == FileState.PROCESSING
    assert response.json() == file_json(failed_file, jobs=[job_json(job) for job in current])


def test_reprocess_with_chosen_steps_replaces_only_those(
    api_client: APIClient, failed_file: File, fake_storage: FakeStorageServer
) -> None:
    response = api_client.post(
        f"/api/v1/files/{failed_file.id}/reprocess/",
        {"steps": ["image.thumbnail", "image.metadata"]},
        format="json",
    )

    assert response.status_code == 202, response.content
    (request,) = fake_storage.storage.dispatches
    assert [job.step for job in request.jobs] == ["image.thumbnail", "image.metadata"]
    current = failed_file.jobs.filter(superseded=False)
    assert [(job.step, job.state) for job in current] == [
        ("checksum", JobState.SUCCEEDED),
        ("image.thumbnail", JobState.QUEUED),
        ("image.metadata", JobState.QUEUED),
    ]
    assert [job["step"] for job in response.json()["jobs"]] == [
        "checksum",
        "image.thumbnail",
        "image.metadata",
    ]


def test_reprocess_of_a_file_without_jobs_runs_the_default_pipeline_of_its_type(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=user, name="a.txt", content_type="text/plain")

    response = api_client.post(f"/api/v1/files/{file.id}/reprocess/", {}, format="json")

    assert response.status_code == 202, response.content
    assert [job["step"] for job in response.json()["jobs"]] == ["text.stats", "checksum"]


def test_ready_file_reprocessed_goes_back_to_ready_when_its_new_jobs_succeed(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=user, state=FileState.READY)
    job_make(file=file, step="checksum", state=JobState.SUCCEEDED, last_sequence=12)

    api_client.post(f"/api/v1/files/{file.id}/reprocess/", format="json")
    (new,) = file.jobs.filter(superseded=False)
    file.refresh_from_db()
    assert file.state == FileState.PROCESSING
    event_apply(envelope=job_event(events.JOB_STARTED, new))
    event_apply(envelope=job_event(events.JOB_SUCCEEDED, new))

    file.refresh_from_db()
    assert file.state == FileState.READY


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"steps": ["resize.everything"]}, "unknown_step"),
        ({"steps": ["Bad Name"]}, "invalid_pipeline"),
        ({"steps": 7}, "invalid_input"),
    ],
)
def test_reprocess_with_bad_steps_is_refused_and_dispatches_nothing(
    api_client: APIClient,
    failed_file: File,
    fake_storage: FakeStorageServer,
    body: dict[str, Any],
    code: str,
) -> None:
    response = api_client.post(f"/api/v1/files/{failed_file.id}/reprocess/", body, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    assert fake_storage.storage.dispatches == []


@pytest.mark.parametrize("state", [FileState.AWAITING_UPLOAD, FileState.EXPIRED, FileState.FAILED])
def test_reprocess_of_a_file_without_stored_bytes_is_a_conflict(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer, state: str
) -> None:
    file = file_make(owner=user, state=state)
    # Expired and rejected uploads never got their bytes stored.
    File.objects.filter(pk=file.pk).update(sha256="", size=None, content_type="")

    response = api_client.post(f"/api/v1/files/{file.id}/reprocess/", format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "not_stored")
    assert fake_storage.storage.dispatches == []


def test_reprocess_of_another_users_file_is_not_found(
    api_client: APIClient, other_user: User, fake_storage: FakeStorageServer
) -> None:
    theirs = file_make(owner=other_user)

    response = api_client.post(f"/api/v1/files/{theirs.id}/reprocess/", format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert fake_storage.storage.dispatches == []


def test_reprocess_while_storage_is_down_is_503_and_changes_nothing(
    api_client: APIClient, failed_file: File, storage_down: str
) -> None:
    jobs_before = list(Job.objects.order_by("pk").values())

    response = api_client.post(f"/api/v1/files/{failed_file.id}/reprocess/", format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (
        503,
        "storage_unavailable",
    )
    assert list(Job.objects.order_by("pk").values()) == jobs_before
    assert File.objects.get(pk=failed_file.pk).state == FileState.FAILED


def test_reprocess_needs_authentication(failed_file: File) -> None:
    response = APIClient().post(f"/api/v1/files/{failed_file.id}/reprocess/", format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (
        401,
        "not_authenticated",
    )


# --- listing -----------------------------------------------------------------------------


def test_job_list_shows_only_your_current_jobs_newest_first(
    api_client: APIClient, user: User, other_user: User, failed_file: File
) -> None:
    newer = file_make(owner=user, name="b.txt")
    newest = job_make(file=newer, step="checksum", created_at=timezone.now() + timedelta(1))
    job_make(file=newer, step="metadata", superseded=True)
    job_make(file=file_make(owner=other_user), step="checksum", state=JobState.FAILED)

    response = api_client.get("/api/v1/jobs/")

    assert response.status_code == 200
    ordered = [newest, *Job.objects.filter(file=failed_file).order_by("-created_at", "-pk")]
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [job_json(job) for job in ordered],
    }


def test_job_list_filters_by_state_and_step(
    api_client: APIClient, user: User, failed_file: File
) -> None:
    other = file_make(owner=user, name="b.png")
    job_make(file=other, step="checksum", state=JobState.FAILED, error="x")

    failed = api_client.get("/api/v1/jobs/", {"state": "failed"})
    thumbnails = api_client.get("/api/v1/jobs/", {"state": "failed", "step": "image.thumbnail"})
    none = api_client.get("/api/v1/jobs/", {"step": "pdf.preview"})

    assert [(job["step"], job["file_id"]) for job in failed.json()["results"]] == [
        ("checksum", str(other.id)),
        ("image.thumbnail", str(failed_file.id)),
    ]
    assert [job["id"] for job in thumbnails.json()["results"]] == [
        str(thumbnail_job(failed_file).id)
    ]
    assert thumbnails.json()["results"][0]["error_class"] == "permanent"
    assert none.json()["count"] == 0


def test_job_list_with_an_unknown_state_is_invalid(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/jobs/", {"state": "exploded"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_filter"
    assert "state" in response.json()["error"]["fields"]


def test_job_list_is_paginated(api_client: APIClient, user: User) -> None:
    file = file_make(owner=user)
    for n in range(55):
        job_make(file=file, step=f"step-{n}", position=n)

    first = api_client.get("/api/v1/jobs/").json()
    second = api_client.get(first["next"]).json()

    assert (first["count"], len(first["results"]), len(second["results"])) == (55, 50, 5)
    seen = [job["id"] for job in first["results"] + second["results"]]
    assert len(set(seen)) == 55


def test_job_list_with_session_and_with_token_alike(user: User, failed_file: File) -> None:
    session = APIClient()
    session.force_login(user)
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {token_make(user)}")

    assert session.get("/api/v1/jobs/").json() == token.get("/api/v1/jobs/").json()
