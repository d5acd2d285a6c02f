from __future__ import annotations

import uuid

import pytest
from django.test import Client

from webapp.accounts.models import Usage, User
from webapp.accounts.services import api_token_create
from webapp.files.models import File, FileState, Job, JobState
from webapp.files.services import file_reserve
from webapp.files.tests.factories import derivative_make, file_make, job_make
from webapp.files.tests.fake_storage import FakeStorageServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("dora", "dora@example.com", "pw")


def test_file_changelist_filters_and_searches(staff_client: Client, owner: User) -> None:
    file_make(owner=owner, name="holiday.jpg", content_type="image/jpeg", state=FileState.READY)
    file_make(owner=owner, name="notes.txt", state=FileState.FAILED)

    everything = staff_client.get("/admin/files/file/")
    ready = staff_client.get("/admin/files/file/", {"state__exact": "ready"})
    by_owner = staff_client.get("/admin/files/file/", {"q": "dora@example.com"})
    by_name = staff_client.get("/admin/files/file/", {"q": "notes"})

    assert [r.status_code for r in (everything, ready, by_owner, by_name)] == [200] * 4
    assert (everything.context["cl"].result_count, ready.context["cl"].result_count) == (2, 1)
    assert by_owner.context["cl"].result_count == 2
    assert [f.name for f in by_name.context["cl"].result_list] == ["notes.txt"]


def test_file_change_page_shows_jobs_and_derivatives_read_only(
    staff_client: Client, owner: User
) -> None:
    file = file_make(owner=owner, name="p.png", state=FileState.READY)
    job_make(file=file, step="image.thumbnail", state=JobState.SUCCEEDED, attempts=1)
    derivative_make(file=file, kind="thumbnail-256")

    response = staff_client.get(f"/admin/files/file/{file.id}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert ("image.thumbnail" in html, "thumbnail-256" in html) == (True, True)
    assert 'name="jobs-0-step"' not in html  # read-only: no input for it


def test_job_changelist_filters_by_state_and_step_and_searches_by_file(
    staff_client: Client, owner: User
) -> None:
    photo = file_make(owner=owner, name="photo.jpg")
    text = file_make(owner=owner, name="notes.txt")
    failed = job_make(file=photo, step="image.thumbnail", state=JobState.FAILED)
    job_make(file=photo, step="checksum", state=JobState.SUCCEEDED)
    job_make(file=text, step="checksum", state=JobState.FAILED)

    by_state = staff_client.get("/admin/files/job/", {"state__exact": "failed"})
    by_both = staff_client.get(
        "/admin/files/job/", {"state__exact": "failed", "step__exact": "image.thumbnail"}
    )
    by_file = staff_client.get("/admin/files/job/", {"q": "photo"})
    by_id = staff_client.get("/admin/files/job/", {"q": str(failed.id)})

    assert [r.status_code for r in (by_state, by_both, by_file, by_id)] == [200] * 4
    assert by_state.context["cl"].result_count == 2
    assert list(by_both.context["cl"].result_list) == [failed]
    assert by_file.context["cl"].result_count == 2
    assert list(by_id.context["cl"].result_list) == [failed]


def test_api_token_admin_never_shows_a_key(staff_client: Client, owner: User) -> None:
    token, key = api_token_create(user=owner, name="laptop")

    listing = staff_client.get("/admin/accounts/apitoken/")
    change = staff_client.get(f"/admin/accounts/apitoken/{token.pk}/change/")

    assert (listing.status_code, change.status_code) == (200, 200)
    for page in (listing, change):
        html = page.content.decode()
        assert key not in html
        assert token.key_hash not in html
    assert "laptop" in listing.content.decode()


def test_non_staff_users_cannot_open_the_admin(owner: User) -> None:
    client = Client()
    client.force_login(owner)

    response = client.get("/admin/files/file/")

    assert (response.status_code, response["Location"]) == (
        302,
        "/admin/login/?next=/admin/files/file/",
    )


def test_deleting_a_file_in_the_admin_forgets_it_in_storage_and_releases_its_usage(
    staff_client: Client, owner: User, fake_storage: FakeStorageServer
) -> None:
    file = file_reserve(owner=owner, name="a.txt", size=40)
    fake_storage.storage.files[str(file.id)] = {"ab" * 32}

    response = staff_client.post(f"/admin/files/file/{file.id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not File.objects.filter(pk=file.pk).exists()
    assert fake_storage.storage.files == {}
    assert fake_storage.storage.aborted == []  # no session was open
    usage = Usage.objects.get(user=owner)
    assert (usage.bytes_used, usage.files_used) == (0, 0)


def test_bulk_deletion_in_the_admin_releases_every_files_usage(
    staff_client: Client, owner: User, fake_storage: FakeStorageServer
) -> None:
    files = [file_reserve(owner=owner, name=f"{n}.txt", size=10) for n in range(3)]

    response = staff_client.post(
        "/admin/files/file/",
        {
            "action": "delete_selected",
            "_selected_action": [str(f.id) for f in files],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert File.objects.count() == 0
    usage = Usage.objects.get(user=owner)
    assert (usage.bytes_used, usage.files_used) == (0, 0)


def test_usage_admin_lists_usage_read_only(staff_client: Client, owner: User) -> None:
    file_reserve(owner=owner, name="a.txt", size=40)

    listing = staff_client.get("/admin/accounts/usage/")
    change = staff_client.get(f"/admin/accounts/usage/{owner.pk}/change/")

    assert (listing.status_code, change.status_code) == (200, 200)
    assert listing.context["cl"].result_count == 1
    assert 'name="bytes_used"' not in change.content.decode()


# --- states, errors, thumbnails, retry and reprocess -------------------------------------


def test_file_and_job_changelists_show_counts_per_state(staff_client: Client, owner: User) -> None:
    ready = file_make(owner=owner, name="a.png", state=FileState.READY)
    failed = file_make(owner=owner, name="b.png", state=FileState.FAILED)
    file_make(owner=owner, name="c.png", state=FileState.READY)
    job_make(file=ready, step="checksum", state=JobState.SUCCEEDED)
    job_make(file=failed, step="checksum", state=JobState.FAILED)
    job_make(file=failed, step="metadata", state=JobState.FAILED)

    files = staff_client.get("/admin/files/file/")
    jobs = staff_client.get("/admin/files/job/", {"state__exact": "failed"})

    assert files.context["state_counts"] == [
        ("awaiting_upload", "Awaiting upload", 0),
        ("stored", "Stored", 0),
        ("processing", "Processing", 0),
        ("ready", "Ready", 2),
        ("failed", "Failed", 1),
        ("expired", "Expired", 0),
    ]
    assert '<a href="?state__exact=ready" data-state="ready">Ready: <strong>2</strong></a>' in (
        files.content.decode()
    )
    # The counts are of every job, whatever the filter shows.
    assert jobs.context["state_counts"] == [
        ("queued", "Queued", 0),
        ("running", "Running", 0),
        ("succeeded", "Succeeded", 1),
        ("failed", "Failed", 2),
    ]


def test_job_changelist_shows_a_failed_jobs_error_and_class(
    staff_client: Client, owner: User
) -> None:
    file = file_make(owner=owner, name="p.png", state=FileState.FAILED)
    job_make(
        file=file,
        step="image.thumbnail",
        state=JobState.FAILED,
        error="The file is not an image (not_an_image)",
        error_code="not_an_image",
        error_class="permanent",
    )

    html = staff_client.get("/admin/files/job/", {"state__exact": "failed"}).content.decode()

    assert '<td class="field-error_summary">The file is not an image (not_an_image)</td>' in html
    assert '<td class="field-error_class">Permanent</td>' in html


def test_file_changelist_shows_thumbnails_that_stream_from_an_admin_view(
    staff_client: Client, owner: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=owner, name="p.png", state=FileState.READY)
    thumbnail = derivative_make(file=file, kind="thumbnail-256", data=b"RIFF-webp-bytes")
    fake_storage.storage.blobs[thumbnail.sha256] = b"RIFF-webp-bytes"
    url = f"/admin/files/file/{file.id}/derivatives/thumbnail-256/"

    listing = staff_client.get("/admin/files/file/").content.decode()
    change = staff_client.get(f"/admin/files/file/{file.id}/change/").content.decode()
    image = staff_client.get(url)

    assert f'<img src="{url}" alt="" width="64" loading="lazy">' in listing
    assert f'<img src="{url}" alt="" width="128" loading="lazy">' in change
    assert image.status_code == 200
    assert (image.getvalue(), image["Content-Type"]) == (
        b"RIFF-webp-bytes",
        "image/webp",
    )


def test_admin_derivative_view_is_for_staff_and_for_existing_derivatives(
    staff_client: Client, owner: User
) -> None:
    file = file_make(owner=owner, state=FileState.READY)
    owner_client = Client()
    owner_client.force_login(owner)
    url = f"/admin/files/file/{file.id}/derivatives/thumbnail-256/"
    derivative_make(file=file, kind="thumbnail-256")

    assert owner_client.get(url).status_code == 302  # to the admin's login
    assert staff_client.get(f"/admin/files/file/{file.id}/derivatives/nope/").status_code == 404
    missing = f"/admin/files/file/{uuid.uuid4()}/derivatives/thumbnail-256/"
    assert staff_client.get(missing).status_code == 404


def test_retry_action_dispatches_the_selected_failed_jobs_and_skips_others(
    staff_client: Client, owner: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=owner, state=FileState.FAILED)
    failed = job_make(file=file, step="image.thumbnail", state=JobState.FAILED, error="boom")
    done = job_make(file=file, step="checksum", state=JobState.SUCCEEDED)

    response = staff_client.post(
        "/admin/files/job/",
        {"action": "retry_jobs", "_selected_action": [str(failed.id), str(done.id)]},
        follow=True,
    )

    assert response.status_code == 200
    assert [(r.file_id, [j.job_id for j in r.jobs]) for r in fake_storage.storage.dispatches] == [
        (str(file.id), [str(failed.id)])
    ]
    assert Job.objects.get(pk=failed.pk).state == JobState.QUEUED
    shown = [str(message) for message in response.context["messages"]]
    assert sorted(shown) == [
        "1 job(s) queued to run again.",
        "checksum (succeeded): Only a failed job can be retried; this one is succeeded.",
    ]


def test_reprocess_action_queues_new_jobs_for_each_selected_file(
    staff_client: Client, owner: User, fake_storage: FakeStorageServer
) -> None:
    files = [file_make(owner=owner, name=f"{n}.txt", state=FileState.READY) for n in range(2)]
    for file in files:
        job_make(file=file, step="checksum", state=JobState.SUCCEEDED)

    response = staff_client.post(
        "/admin/files/file/",
        {"action": "reprocess_files", "_selected_action": [str(f.id) for f in files]},
        follow=True,
    )

    assert response.status_code == 200
    assert sorted(r.file_id for r in fake_storage.storage.dispatches) == sorted(
        str(f.id) for f in files
    )
    for file in files:
        current = file.jobs.filter(superseded=False)
        assert [(job.step, job.state) for job in current] == [("checksum", JobState.QUEUED)]
        assert File.objects.get(pk=file.pk).state == FileState.PROCESSING
    assert [str(m) for m in response.context["messages"]] == [
        "2 file(s) queued for processing again."
    ]


def test_reprocess_action_while_storage_is_down_says_so_and_changes_nothing(
    staff_client: Client, owner: User, storage_down: str
) -> None:
    file = file_make(owner=owner, name="a.txt", state=FileState.READY)
    job_make(file=file, step="checksum", state=JobState.SUCCEEDED)

    response = staff_client.post(
        "/admin/files/file/",
        {"action": "reprocess_files", "_selected_action": [str(file.id)]},
        follow=True,
    )

    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith("a.txt: The storage service is unavailable")
    assert [(j.state, j.superseded) for j in file.jobs.all()] == [(JobState.SUCCEEDED, False)]
    assert File.objects.get(pk=file.pk).state == FileState.READY
