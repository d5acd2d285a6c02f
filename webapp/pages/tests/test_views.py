"""The pages through Django's test client: the no-JavaScript upload, the list, one file."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from webapp.accounts.models import User
from webapp.files.models import File, FileState, Job, JobState
from webapp.files.tests.factories import derivative_make, file_make, job_make
from webapp.files.tests.fake_storage import FakeStorageServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_home_shows_sign_up_and_log_in_links_to_visitors(client: Client, db: None) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert reverse("account_signup") in response.text
    assert reverse("account_login") in response.text


def test_home_sends_a_signed_in_user_to_the_upload_page(signed_in: Client) -> None:
    response = signed_in.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("pages:upload")


@pytest.mark.parametrize(
    "path",
    ["/upload/", "/files/", "/files/3f1c2a9e-7d6b-4e55-9a51-0c8b1d2e3f40/"],
)
def test_pages_need_a_signed_in_user(client: Client, db: None, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={path}"


def test_upload_page_has_a_multipart_form_that_needs_no_javascript(signed_in: Client) -> None:
    response = signed_in.get("/upload/")

    html = response.text
    assert response.status_code == 200
    form = re.search(r"<form id=\"upload-form\"[^>]*>", html, re.S)
    assert form is not None
    assert 'method="post"' in form[0]
    assert 'enctype="multipart/form-data"' in form[0]
    assert 'data-api-files="/api/v1/files/"' in form[0]
    assert re.search(r'<input type="file" name="files"[^>]*multiple', html)
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<button type="submit" class="submit-button">Upload</button>' in html


def test_upload_page_loads_the_committed_uppy_bundle_and_tells_it_where_to_send(
    signed_in: Client, settings: Any
) -> None:
    settings.PAGES_UPLOAD_CHUNK_SIZE = 1024 * 1024

    html = signed_in.get("/upload/").text

    form = re.search(r"<form id=\"upload-form\"[^>]*>", html, re.S)
    assert form is not None
    assert 'data-api-uploads="/api/v1/uploads/"' in form[0]
    assert 'data-chunk-size="1048576"' in form[0]
    assert '<div id="uppy-dashboard" class="uppy-target" hidden></div>' in html
    assert '<script src="/static/pages/vendor/uppy-upload.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/pages/vendor/uppy-upload.css">' in html
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert [link for link in links if link.startswith(("http:", "https:", "//"))] == []


@pytest.mark.parametrize("name", ["uppy-upload.js", "uppy-upload.css"])
def test_the_committed_bundle_names_what_it_contains_and_its_licenses(name: str) -> None:
    path = finders.find(f"pages/vendor/{name}")
    assert path is not None
    head = Path(path).read_text(encoding="utf-8")[:2000]

    assert "Built by frontend/build.mjs from frontend/src/upload.js" in head
    assert "@uppy/core@" in head and "@uppy/dashboard@" in head
    assert finders.find("pages/vendor/uppy-upload.LICENSES.txt") is not None


def test_upload_page_lists_my_unfinished_uploads_only(
    signed_in: Client, user: User, other_user: User
) -> None:
    waiting = file_make(owner=user, name="holiday.mov", state=FileState.AWAITING_UPLOAD)
    file_make(owner=user, name="done.png", state=FileState.READY)
    file_make(owner=other_user, name="theirs.mov", state=FileState.AWAITING_UPLOAD)

    html = signed_in.get("/upload/").text

    section = re.search(r'<section id="unfinished-uploads".*?</section>', html, re.S)
    assert section is not None
    assert re.findall(r'<li data-file-id="([^"]+)">', section[0]) == [str(waiting.pk)]
    assert "holiday.mov" in section[0]


def test_upload_page_shows_my_usage_against_my_quota(signed_in: Client, settings: Any) -> None:
    settings.USP = dataclasses.replace(settings.USP, quota_bytes=10 * 1024**3, quota_files=500)

    html = signed_in.get("/upload/").text

    usage = re.search(r'<p class="muted small usage">(.*?)</p>', html, re.S)
    assert usage is not None
    assert " ".join(usage[1].split()) == (
        "You use 0 bytes of 10.0 GB and 0 of 500 files (unfinished uploads included)."
    )


def test_upload_page_without_unfinished_uploads_has_no_such_section(signed_in: Client) -> None:
    html = signed_in.get("/upload/").text

    assert "unfinished-uploads" not in html


def test_one_file_uploaded_through_the_form_is_stored_and_opens_its_page(
    signed_in: Client, user: User, fake_storage: FakeStorageServer
) -> None:
    upload = SimpleUploadedFile("pixel.png", PNG, content_type="image/png")

    response = signed_in.post("/upload/", {"files": [upload]})

    file = File.objects.get(owner=user)
    assert response.status_code == 302
    assert response["Location"] == reverse("pages:file_detail", kwargs={"file_id": file.pk})
    assert (file.name, file.state, file.size) == ("pixel.png", FileState.PROCESSING, len(PNG))
    assert file.sha256 == hashlib.sha256(PNG).hexdigest()
    assert fake_storage.storage.blobs[file.sha256] == PNG
    assert [job.step for job in file.jobs.all()] == ["metadata", "checksum", "image.thumbnail"]


def test_several_files_uploaded_through_the_form_lead_to_the_list(
    signed_in: Client, user: User, fake_storage: FakeStorageServer
) -> None:
    uploads = [SimpleUploadedFile(f"n{i}.txt", f"note {i}".encode()) for i in range(3)]

    response = signed_in.post("/upload/", {"files": uploads, "pipeline": "checksum"})

    assert response.status_code == 302
    assert response["Location"] == reverse("pages:file_list")
    assert messages_of(response) == ["Uploaded 3 of 3 files."]
    assert sorted(File.objects.filter(owner=user).values_list("name", flat=True)) == [
        "n0.txt",
        "n1.txt",
        "n2.txt",
    ]
    assert [list(header.pipeline) for header in fake_storage.storage.headers] == [["checksum"]] * 3


def test_submitting_the_form_without_a_file_explains_and_stores_nothing(
    signed_in: Client, fake_storage: FakeStorageServer
) -> None:
    response = signed_in.post("/upload/", {"pipeline": ""})

    assert response.status_code == 302
    assert response["Location"] == reverse("pages:upload")
    assert messages_of(response) == ["Choose at least one file."]
    assert File.objects.count() == 0


def test_an_invalid_pipeline_is_shown_as_a_message_and_nothing_is_stored(
    signed_in: Client, fake_storage: FakeStorageServer
) -> None:
    upload = SimpleUploadedFile("a.txt", b"a")

    response = signed_in.post("/upload/", {"files": [upload], "pipeline": "Bad Step!"})

    assert response["Location"] == reverse("pages:upload")
    assert messages_of(response) == ["Invalid step name: 'Bad Step!'."]
    assert File.objects.count() == 0
    assert fake_storage.storage.blobs == {}


def test_an_unreachable_storage_is_shown_as_a_message_and_nothing_is_stored(
    signed_in: Client, storage_down: str
) -> None:
    upload = SimpleUploadedFile("a.txt", b"a")

    response = signed_in.post("/upload/", {"files": [upload]}, follow=True)

    assert response.redirect_chain == [(reverse("pages:upload"), 302)]
    assert "a.txt: The storage service is unavailable right now" in response.text
    assert File.objects.count() == 0


def test_the_list_shows_only_my_files_with_state_thumbnail_and_link(
    signed_in: Client, user: User, other_user: User
) -> None:
    mine = file_make(owner=user, name="cat.png", state=FileState.READY)
    derivative_make(file=mine, kind="thumbnail-256")
    file_make(owner=user, name="notes.txt", state=FileState.PROCESSING)
    file_make(owner=other_user, name="secret.txt")

    response = signed_in.get("/files/")

    html = response.text
    assert response.status_code == 200
    assert "cat.png" in html
    assert "notes.txt" in html
    assert "secret.txt" not in html
    assert f'href="/files/{mine.pk}/"' in html
    assert f'src="/api/v1/files/{mine.pk}/derivatives/thumbnail-256"' in html
    assert '<span class="pill state-ready" data-state="ready">ready</span>' in html
    assert '<span class="pill state-processing" data-state="processing">processing</span>' in html


def test_the_list_of_a_new_user_invites_to_upload(signed_in: Client) -> None:
    response = signed_in.get("/files/")

    assert "No files yet." in response.text


def test_the_file_page_shows_metadata_jobs_derivatives_and_download(
    signed_in: Client, user: User
) -> None:
    file = file_make(
        owner=user,
        name="cat.png",
        state=FileState.FAILED,
        metadata={"width": 640, "exif": {"Model": "X100"}},
    )
    job_make(file=file, step="metadata", state=JobState.SUCCEEDED, attempts=1)
    job_make(
        file=file,
        step="image.thumbnail",
        state=JobState.FAILED,
        attempts=3,
        position=1,
        error="not an image",
    )
    derivative_make(file=file, kind="thumbnail-256")

    response = signed_in.get(f"/files/{file.pk}/")

    html = response.text
    assert response.status_code == 200
    assert f'href="/api/v1/files/{file.pk}/content"' in html
    assert f'href="/api/v1/files/{file.pk}/derivatives/thumbnail-256"' in html
    assert file.sha256 in html
    assert '<tr><th scope="row">width</th><td>640</td></tr>' in html
    assert "<pre>{\n  &quot;Model&quot;: &quot;X100&quot;\n}</pre>" in html
    assert re.search(r"<code>image\.thumbnail</code>.*?state-failed.*?not an image", html, re.S)
    assert re.search(r"<code>metadata</code>.*?state-succeeded", html, re.S)


def test_another_users_file_is_a_404_page(signed_in: Client, other_user: User) -> None:
    theirs = file_make(owner=other_user, name="secret.txt")

    response = signed_in.get(f"/files/{theirs.pk}/")

    assert response.status_code == 404
    assert "secret.txt" not in response.text
    assert "There is no such file among yours." in response.text


def test_a_malformed_file_address_is_not_found(signed_in: Client) -> None:
    assert signed_in.get("/files/not-a-uuid/").status_code == 404


# --- retry and reprocess buttons ---------------------------------------------------------


def test_the_file_page_offers_retry_for_failed_jobs_and_process_again_when_settled(
    signed_in: Client, user: User
) -> None:
    file = file_make(owner=user, state=FileState.FAILED)
    failed = job_make(file=file, step="image.thumbnail", state=JobState.FAILED, error="boom")
    job_make(file=file, step="checksum", state=JobState.SUCCEEDED, position=1)

    html = signed_in.get(f"/files/{file.pk}/").text

    assert re.findall(r'action="(/jobs/[^"]+/retry/)"', html) == [f"/jobs/{failed.pk}/retry/"]
    assert f'action="/files/{file.pk}/reprocess/"' in html


def test_retry_button_runs_the_failed_job_again_and_returns_to_the_file(
    signed_in: Client, user: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=user, state=FileState.FAILED)
    failed = job_make(file=file, step="image.thumbnail", state=JobState.FAILED, error="boom")

    response = signed_in.post(f"/jobs/{failed.pk}/retry/", follow=True)

    assert response.redirect_chain == [(f"/files/{file.pk}/", 302)]
    assert [str(m) for m in response.context["messages"]] == ["image.thumbnail will run again."]
    assert [r.jobs[0].job_id for r in fake_storage.storage.dispatches] == [str(failed.pk)]
    assert Job.objects.get(pk=failed.pk).state == JobState.QUEUED
    assert "live-note" in response.text  # the page now follows the job live


def test_process_again_button_runs_the_files_steps_as_new_jobs(
    signed_in: Client, user: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=user, state=FileState.READY)
    job_make(file=file, step="checksum", state=JobState.SUCCEEDED)

    response = signed_in.post(f"/files/{file.pk}/reprocess/", follow=True)

    assert response.redirect_chain == [(f"/files/{file.pk}/", 302)]
    assert [str(m) for m in response.context["messages"]] == ["The file is being processed again."]
    assert [(j.step, j.state) for j in file.jobs.filter(superseded=False)] == [
        ("checksum", JobState.QUEUED)
    ]


def test_retry_button_while_storage_is_down_says_so_and_changes_nothing(
    signed_in: Client, user: User, storage_down: str
) -> None:
    file = file_make(owner=user, state=FileState.FAILED)
    failed = job_make(file=file, step="checksum", state=JobState.FAILED, error="boom")

    response = signed_in.post(f"/jobs/{failed.pk}/retry/", follow=True)

    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith("The storage service is unavailable")
    assert Job.objects.get(pk=failed.pk).state == JobState.FAILED


def test_retry_and_reprocess_buttons_of_another_users_file_are_not_found(
    signed_in: Client, other_user: User, fake_storage: FakeStorageServer
) -> None:
    theirs = file_make(owner=other_user, state=FileState.FAILED)
    job = job_make(file=theirs, step="checksum", state=JobState.FAILED)

    responses = [
        signed_in.post(f"/jobs/{job.pk}/retry/"),
        signed_in.post(f"/files/{theirs.pk}/reprocess/"),
    ]

    assert [r.status_code for r in responses] == [404, 404]
    assert fake_storage.storage.dispatches == []
    assert signed_in.get(f"/jobs/{job.pk}/retry/").status_code == 405
