"""What applying an event writes, and with how many queries: each event is a handful of
statements whatever its jobs and derivatives, and writes what it did one row at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from usp.v1 import common_pb2
from webapp.accounts.models import User
from webapp.files.models import Derivative, File, FileState, Job, JobState
from webapp.files.tests.factories import file_make
from webapp.files.tests.test_events import apply, info, started, stored, succeeded

pytestmark = pytest.mark.django_db

AssertQueries = Callable[[int], AbstractContextManager[object]]
THUMB = "image.thumbnail"


@pytest.fixture
def uploaded(db: None) -> File:
    """A reserved upload awaiting its bytes, counted against its owner as reserving does."""
    owner = User.objects.create_user("owner", "owner@example.com", "pw")
    return file_make(owner=owner, name="p.png", state=FileState.AWAITING_UPLOAD, charged_bytes=120)


@pytest.fixture
def job_ids() -> dict[str, str]:
    return {step: str(uuid.uuid4()) for step in ("metadata", "checksum", THUMB)}


def derivative(kind: str, sha: str) -> common_pb2.Derivative:
    return common_pb2.Derivative(kind=kind, object=info(sha, 512, "image/webp"))


def test_each_event_is_a_handful_of_queries_whatever_its_jobs_and_derivatives(
    uploaded: File, job_ids: dict[str, str], django_assert_num_queries: AssertQueries
) -> None:
    job_id = job_ids[THUMB]
    thumbnails = [derivative("thumbnail-256", "cd" * 32), derivative("thumbnail-1024", "ef" * 32)]

    # Each: a savepoint, the file, its jobs (one read), the writes, the file when it
    # changed, the release.
    with django_assert_num_queries(6):  # one insert for the three jobs
        apply(stored(uploaded, job_ids))
    with django_assert_num_queries(5):  # the job; the file, still processing, is not written
        apply(started(uploaded, job_id, THUMB))
    with django_assert_num_queries(7):  # one upsert for both derivatives, the job
        apply(succeeded(uploaded, job_id, THUMB, {"width": 256}, thumbnails))
    with django_assert_num_queries(4):  # a duplicate: read, found stale, nothing written
        apply(succeeded(uploaded, job_id, THUMB, {"width": 256}, thumbnails))

    uploaded.refresh_from_db()
    assert uploaded.state == FileState.PROCESSING
    assert {job.step: job.state for job in uploaded.jobs.all()} == {
        "metadata": JobState.QUEUED,
        "checksum": JobState.QUEUED,
        THUMB: JobState.SUCCEEDED,
    }
    assert sorted(Derivative.objects.values_list("kind", "sha256")) == [
        ("thumbnail-1024", "ef" * 32),
        ("thumbnail-256", "cd" * 32),
    ]


def test_a_derivative_kind_recorded_again_is_overwritten_and_its_row_kept(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    first, again = job_ids[THUMB], str(uuid.uuid4())
    apply(
        stored(uploaded, {THUMB: first}),
        succeeded(uploaded, first, THUMB, {}, [derivative("thumbnail-256", "cd" * 32)]),
    )
    row = Derivative.objects.get()

    # A later job of the step (a reprocess) lists the kind twice: the last one counts.
    apply(
        succeeded(
            uploaded,
            again,
            THUMB,
            {},
            [derivative("thumbnail-256", "11" * 32), derivative("thumbnail-256", "22" * 32)],
        )
    )

    assert list(Derivative.objects.values_list("pk", "kind", "sha256", "created_at")) == [
        (row.pk, "thumbnail-256", "22" * 32, row.created_at)
    ]


def test_file_stored_puts_a_job_an_event_created_first_at_its_dispatched_position(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    apply(started(uploaded, job_ids["checksum"], "checksum"))
    assert Job.objects.get(pk=job_ids["checksum"]).position == 0

    apply(stored(uploaded, {"metadata": job_ids["metadata"], "checksum": job_ids["checksum"]}))

    assert list(uploaded.jobs.values_list("step", "position", "state")) == [
        ("metadata", 0, JobState.QUEUED),
        ("checksum", 1, JobState.RUNNING),
    ]
    uploaded.refresh_from_db()
    assert uploaded.state == FileState.PROCESSING


def test_a_job_event_writes_the_file_only_when_its_state_or_metadata_changes(
    uploaded: File, job_ids: dict[str, str]
) -> None:
    job_id = job_ids[THUMB]
    apply(stored(uploaded, {THUMB: job_id}))
    uploaded.refresh_from_db()
    stored_at = uploaded.updated_at

    apply(started(uploaded, job_id, THUMB))  # still processing
    uploaded.refresh_from_db()
    assert (uploaded.state, uploaded.updated_at) == (FileState.PROCESSING, stored_at)

    apply(succeeded(uploaded, job_id, THUMB, {"width": 256}, []))
    uploaded.refresh_from_db()
    assert uploaded.state == FileState.READY
    assert uploaded.metadata[THUMB] == {"width": 256}
    assert uploaded.updated_at > stored_at
