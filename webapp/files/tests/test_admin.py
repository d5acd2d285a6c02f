from __future__ import annotations

import pytest
from django.test import Client

from webapp.accounts.models import Usage, User
from webapp.accounts.services import api_token_create
from webapp.files.models import File, FileState, JobState
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
