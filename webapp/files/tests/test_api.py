from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from webapp.accounts.models import User
from webapp.files.models import File, FileState, Job, JobState
from webapp.files.tests.factories import derivative_make, file_make, job_make
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.files.tests.resources import file_json, iso, usage_of

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(client: APIClient, name: str, data: bytes, **extra: str) -> Any:
    payload = {"file": SimpleUploadedFile(name, data), **extra}
    return client.post("/api/v1/files/", payload, format="multipart")


# --- upload ------------------------------------------------------------------------------


def test_upload_stores_the_bytes_and_returns_the_file_with_its_jobs_queued(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    response = upload(api_client, "photo.png", PNG)

    assert response.status_code == 201, response.content
    file = File.objects.get()
    sha = hashlib.sha256(PNG).hexdigest()
    assert fake_storage.storage.blobs == {sha: PNG}
    assert [job.step for job in file.jobs.all()] == ["metadata", "checksum", "image.thumbnail"]
    assert response.json() == {
        "id": str(file.id),
        "name": "photo.png",
        "size": len(PNG),
        "content_type": "image/png",
        "sha256": sha,
        "state": "processing",
        "error": "",
        "created_at": iso(file.created_at),
        "metadata": {},
        "jobs": [
            {
                "id": str(job.id),
                "file_id": str(file.id),
                "step": job.step,
                "state": "queued",
                "attempts": 0,
                "error": "",
                "error_code": "",
                "error_class": "",
                "next_retry_at": None,
                "started_at": None,
                "finished_at": None,
            }
            for job in file.jobs.all()
        ],
        "derivatives": [],
        "content_url": f"http://testserver/api/v1/files/{file.id}/content",
    }
    assert file.owner == user


def test_upload_sends_the_chosen_pipeline_to_storage(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = upload(api_client, "a.txt", b"words", pipeline="checksum, metadata")

    assert response.status_code == 201, response.content
    (header,) = fake_storage.storage.headers
    assert fake_storage.storage.pipelines == [["checksum", "metadata"]]
    assert header.file_id == response.json()["id"]
    assert [job["step"] for job in response.json()["jobs"]] == ["checksum", "metadata"]


def test_upload_name_loses_its_directories_and_control_characters(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = upload(api_client, "..\\..\\evil\x07 name.txt", b"data")

    assert response.status_code == 201, response.content
    assert response.json()["name"] == "evil name.txt"
    assert fake_storage.storage.headers[0].name == "evil name.txt"


def test_zero_byte_upload_is_accepted_and_stored(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    response = upload(api_client, "empty.bin", b"")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["size"], body["sha256"], body["state"]) == (
        0,
        hashlib.sha256(b"").hexdigest(),
        "processing",
    )
    assert [job["step"] for job in body["jobs"]] == ["metadata", "checksum"]
    assert fake_storage.storage.blobs == {hashlib.sha256(b"").hexdigest(): b""}
    assert usage_of(user) == (0, 1)


def test_upload_counts_against_the_quotas(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    upload(api_client, "a.txt", b"words")
    upload(api_client, "b.txt", b"more words")

    assert usage_of(user) == (15, 2)


def test_upload_past_the_byte_quota_is_413_and_nothing_reaches_storage(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(quota_bytes=8)
    assert upload(api_client, "a.txt", b"words").status_code == 201

    response = upload(api_client, "b.txt", b"more")

    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "quota_exceeded",
            "message": "This upload of 4 bytes would pass your storage quota: "
            "5 of 8 bytes are in use.",
        }
    }
    assert (File.objects.count(), len(fake_storage.storage.headers), usage_of(user)) == (
        1,
        1,
        (5, 1),
    )


def test_upload_past_the_file_quota_is_413(
    api_client: APIClient, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    usp_settings(quota_files=1)
    upload(api_client, "a.txt", b"words")

    response = upload(api_client, "b.txt", b"x")

    assert (response.status_code, response.json()["error"]["code"]) == (413, "quota_exceeded")


def test_upload_over_the_size_limit_is_413_too_large_and_nothing_reaches_storage(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(max_upload_size=4)

    response = upload(api_client, "a.txt", b"words")

    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": "The file is too large: 5 bytes; uploads may be at most 4 bytes.",
        }
    }
    assert (File.objects.count(), fake_storage.storage.headers, usage_of(user)) == (0, [], (0, 0))


def test_upload_whose_name_claims_a_type_outside_the_policy_is_415_before_storage(
    api_client: APIClient, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    usp_settings(allowed_types=("image/*",))

    response = upload(api_client, "notes.txt", b"words")

    assert response.status_code == 415
    assert response.json() == {
        "error": {
            "code": "type_not_allowed",
            "message": "Files of type text/plain are not accepted here; allowed: image/*.",
        }
    }
    assert (File.objects.count(), fake_storage.storage.headers) == (0, [])


def test_upload_whose_bytes_are_outside_the_policy_is_415_from_storage_and_released(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(allowed_types=("image/*",))

    response = upload(api_client, "fake.png", b"just words")

    assert response.status_code == 415
    assert response.json() == {
        "error": {
            "code": "type_not_allowed",
            "message": "Files of this type are not accepted here: text/plain is not one of image/*",
        }
    }
    assert list(fake_storage.storage.headers) == []
    assert (File.objects.count(), usage_of(user)) == (0, (0, 0))


def test_upload_sends_the_type_policy_to_storage(
    api_client: APIClient, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    usp_settings(allowed_types=("image/*", "application/pdf"))

    response = upload(api_client, "photo.png", PNG)

    assert response.status_code == 201, response.content
    assert list(fake_storage.storage.headers[0].allowed_types) == ["image/*", "application/pdf"]


def test_upload_larger_than_the_memory_limit_spools_to_disk_and_arrives_whole(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    data = bytes(range(256)) * (3 * 4096 + 7)  # a little over 3 MiB

    response = upload(api_client, "big.bin", data)

    assert response.status_code == 201, response.content
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert fake_storage.storage.blobs[hashlib.sha256(data).hexdigest()] == data


@pytest.mark.parametrize("payload", [{}, {"pipeline": "metadata"}])
def test_upload_without_a_file_is_400_file_required_and_nothing_is_stored(
    api_client: APIClient, fake_storage: FakeStorageServer, payload: dict[str, str]
) -> None:
    response = api_client.post("/api/v1/files/", payload, format="multipart")

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "file_required",
            "message": "Send the file as the multipart form field 'file'.",
        }
    }
    assert (File.objects.count(), fake_storage.storage.headers) == (0, [])


def test_upload_with_an_empty_body_is_400_file_required(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = api_client.post("/api/v1/files/")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_required"


def test_upload_with_a_malformed_pipeline_is_400_and_nothing_is_stored(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = upload(api_client, "a.txt", b"words", pipeline="metadata,Rm -rf")

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_pipeline",
            "message": "Invalid step name: 'Rm -rf'.",
            "fields": {"pipeline": ["Step names are lowercase letters, digits, '.', '_', '-'."]},
        }
    }
    assert (File.objects.count(), fake_storage.storage.headers) == (0, [])


def test_upload_when_storage_is_unreachable_is_503_and_leaves_no_file_and_no_usage(
    api_client: APIClient, user: User, storage_down: str
) -> None:
    response = upload(api_client, "a.txt", b"words")

    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "storage_unavailable",
            "message": "The storage service is unavailable right now; nothing was stored. "
            "Try again shortly.",
        }
    }
    assert (File.objects.count(), usage_of(user)) == (0, (0, 0))


@pytest.mark.parametrize(
    ("status", "http_status", "code"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400, "rejected_by_storage"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 413, "too_large"),
    ],
)
def test_upload_refused_by_storage_keeps_its_reason_and_leaves_no_file(
    api_client: APIClient,
    fake_storage: FakeStorageServer,
    status: grpc.StatusCode,
    http_status: int,
    code: str,
) -> None:
    fake_storage.storage.refuse_writes = (status, "refused for a reason")

    response = upload(api_client, "a.txt", b"words")

    assert response.status_code == http_status
    assert response.json() == {"error": {"code": code, "message": "refused for a reason"}}
    assert File.objects.count() == 0


def test_upload_failing_inside_storage_is_502_without_internals(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    fake_storage.storage.refuse_writes = (grpc.StatusCode.INTERNAL, "disk /srv/x is full")

    response = upload(api_client, "a.txt", b"words")

    assert response.status_code == 502
    assert response.json() == {
        "error": {
            "code": "storage_error",
            "message": "The storage service failed to handle the request.",
        }
    }
    assert File.objects.count() == 0


def test_upload_as_json_is_415(api_client: APIClient, fake_storage: FakeStorageServer) -> None:
    response = api_client.post("/api/v1/files/", {"file": "x"}, format="json")

    assert response.status_code == 415
    assert response.json() == {
        "error": {
            "code": "unsupported_media_type",
            "message": 'Unsupported media type "application/json" in request.',
        }
    }


# --- list and detail ---------------------------------------------------------------------


def test_list_shows_only_the_callers_files_newest_first(
    api_client: APIClient, user: User, other_user: User
) -> None:
    now = timezone.now()
    old = file_make(owner=user, name="old.txt", created_at=now - timedelta(hours=2))
    new = file_make(owner=user, name="new.txt", created_at=now)
    file_make(owner=other_user, name="theirs.txt", created_at=now - timedelta(hours=1))
    job_make(file=new, step="metadata", state=JobState.SUCCEEDED, attempts=1)

    response = api_client.get("/api/v1/files/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [file_json(new), file_json(old)],
    }


def test_list_is_paginated_by_fifty(api_client: APIClient, user: User) -> None:
    now = timezone.now()
    files = [
        file_make(owner=user, name=f"{n}.txt", created_at=now - timedelta(minutes=n))
        for n in range(51)
    ]

    first = api_client.get("/api/v1/files/").json()
    second = api_client.get(first["next"]).json()

    assert (first["count"], first["next"], first["previous"]) == (
        51,
        "http://testserver/api/v1/files/?page=2",
        None,
    )
    assert [item["name"] for item in first["results"]] == [f.name for f in files[:50]]
    assert [item["name"] for item in second["results"]] == ["50.txt"]
    assert second["previous"] == "http://testserver/api/v1/files/"


def test_detail_shows_metadata_jobs_and_derivatives_with_absolute_links(
    api_client: APIClient, user: User
) -> None:
    file = file_make(
        owner=user, name="p.png", state=FileState.READY, metadata={"metadata": {"w": 2}}
    )
    job_make(file=file, step="image.thumbnail", state=JobState.SUCCEEDED, attempts=1)
    derivative_make(file=file, kind="thumbnail-256")

    response = api_client.get(f"/api/v1/files/{file.id}/")

    assert response.status_code == 200
    body = response.json()
    assert body == file_json(file)
    assert body["derivatives"] == [
        {
            "kind": "thumbnail-256",
            "content_type": "image/webp",
            "size": 9,
            "url": f"http://testserver/api/v1/files/{file.id}/derivatives/thumbnail-256",
        }
    ]
    assert body["metadata"] == {"metadata": {"w": 2}}


def test_another_users_file_is_404_for_every_operation(
    api_client: APIClient, other_user: User, fake_storage: FakeStorageServer
) -> None:
    theirs = file_make(owner=other_user)
    not_found = {"error": {"code": "not_found", "message": "No such file."}}

    for method, path in [
        ("get", f"/api/v1/files/{theirs.id}/"),
        ("delete", f"/api/v1/files/{theirs.id}/"),
        ("get", f"/api/v1/files/{theirs.id}/content"),
        ("get", f"/api/v1/files/{theirs.id}/derivatives/thumbnail-256"),
    ]:
        response = getattr(api_client, method)(path)
        assert (response.status_code, response.json()) == (404, not_found), (method, path)
    assert File.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("file_id", ["not-a-uuid", "1234", "00000000-0000-0000-0000-00000000000g"])
def test_malformed_file_id_is_404_json(api_client: APIClient, file_id: str) -> None:
    response = api_client.get(f"/api/v1/files/{file_id}/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such file."}}


def test_unknown_api_path_is_404_json(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "There is nothing at this address."}
    }


def test_method_not_allowed_is_405_json(api_client: APIClient, user: User) -> None:
    file = file_make(owner=user)

    response = api_client.put(f"/api/v1/files/{file.id}/", {}, format="json")

    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": 'Method "PUT" not allowed.'}
    }


# --- downloads ---------------------------------------------------------------------------


def stored_file(fake: FakeStorageServer, owner: User, name: str, data: bytes) -> File:
    sha = hashlib.sha256(data).hexdigest()
    fake.storage.blobs[sha] = data
    return file_make(owner=owner, name=name, data=data, content_type="text/html")


def test_content_is_an_attachment_with_a_safe_name_and_the_exact_bytes(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    data = b"<script>alert(1)</script>" * 5000
    file = stored_file(fake_storage, user, 'r\u00e9sum\u00e9 "final".html', data)

    response = api_client.get(f"/api/v1/files/{file.id}/content")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert {
        name: response[name]
        for name in (
            "Content-Type",
            "Content-Length",
            "Content-Disposition",
            "X-Content-Type-Options",
            "Content-Security-Policy",
        )
    } == {
        "Content-Type": "text/html",
        "Content-Length": str(len(data)),
        "Content-Disposition": "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%22final%22.html",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }


def test_content_of_an_ascii_name_has_a_quoted_filename(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    file = stored_file(fake_storage, user, "notes.txt", b"abc")

    response = api_client.get(f"/api/v1/files/{file.id}/content", HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert b"".join(response.streaming_content) == b"abc"


def test_content_before_the_bytes_are_stored_is_409_not_stored(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=user, state=FileState.AWAITING_UPLOAD)

    response = api_client.get(f"/api/v1/files/{file.id}/content")

    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "not_stored", "message": "The file's bytes are not stored yet."}
    }


def test_content_when_storage_is_unreachable_is_503(
    api_client: APIClient, user: User, storage_down: str
) -> None:
    file = file_make(owner=user)

    response = api_client.get(f"/api/v1/files/{file.id}/content")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"


def test_derivative_downloads_with_its_own_type_and_name(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    file = stored_file(fake_storage, user, "photo.jpg", b"jpeg-bytes")
    thumbnail = b"RIFF....WEBPVP8 "
    fake_storage.storage.blobs[hashlib.sha256(thumbnail).hexdigest()] = thumbnail
    derivative_make(file=file, kind="thumbnail-256", data=thumbnail)

    response = api_client.get(f"/api/v1/files/{file.id}/derivatives/thumbnail-256")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == thumbnail
    assert (response["Content-Type"], response["Content-Disposition"]) == (
        "image/webp",
        'attachment; filename="photo-thumbnail-256.webp"',
    )


def test_unknown_derivative_is_404(api_client: APIClient, user: User) -> None:
    file = file_make(owner=user)

    response = api_client.get(f"/api/v1/files/{file.id}/derivatives/preview")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "This file has no 'preview' derivative."}
    }


# --- delete ------------------------------------------------------------------------------


def test_delete_forgets_the_file_in_storage_and_in_the_catalog(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    created = upload(api_client, "a.txt", b"words").json()

    response = api_client.delete(f"/api/v1/files/{created['id']}/")

    assert (response.status_code, response.content) == (204, b"")
    assert (File.objects.count(), Job.objects.count()) == (0, 0)
    assert (fake_storage.storage.files, fake_storage.storage.blobs) == ({}, {})
    assert api_client.get(f"/api/v1/files/{created['id']}/").status_code == 404


def test_delete_when_storage_is_unreachable_is_503_and_keeps_the_file(
    api_client: APIClient, user: User, storage_down: str
) -> None:
    file = file_make(owner=user)

    response = api_client.delete(f"/api/v1/files/{file.id}/")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert File.objects.filter(pk=file.pk).exists()


# --- authentication ----------------------------------------------------------------------


def test_anonymous_requests_are_401_with_a_token_challenge() -> None:
    response = APIClient().get("/api/v1/files/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
        }
    }


def test_session_upload_without_a_csrf_token_is_403(
    user: User, fake_storage: FakeStorageServer
) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    response = upload(client, "a.txt", b"words")

    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "csrf_failed",
            "message": "CSRF Failed: CSRF cookie not set.",
        }
    }
    assert File.objects.count() == 0


def test_session_upload_with_the_csrf_token_is_accepted(
    user: User, fake_storage: FakeStorageServer
) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/accounts/email/")  # sets the CSRF cookie, as any page with a form does
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/api/v1/files/",
        {"file": SimpleUploadedFile("a.txt", b"words")},
        format="multipart",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 201, response.content
    assert File.objects.get().owner == user
    # The CSRF check read the form before the view: it went the buffered way, its size
    # declared to storage.
    assert fake_storage.storage.headers[0].declared_size == 5


def test_session_reads_need_no_csrf_token(user: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.get("/api/v1/files/").status_code == 200


# --- root and schema ---------------------------------------------------------------------


def test_api_root_links_the_collection_schema_and_grpc_api(settings: Any) -> None:
    import dataclasses

    settings.USP = dataclasses.replace(settings.USP, api_grpc_port=50999)
    settings.ALLOWED_HOSTS = ["files.example.com"]

    response = APIClient().get("/api/v1/", HTTP_HOST="files.example.com:8000")
    assert response.status_code == 200
    assert response.json() == {
        "files": "http://files.example.com:8000/api/v1/files/",
        "jobs": "http://files.example.com:8000/api/v1/jobs/",
        "uploads": "http://files.example.com:8000/api/v1/uploads/",
        "usage": "http://files.example.com:8000/api/v1/usage/",
        "schema": "http://files.example.com:8000/api/schema/",
        "grpc_api": "files.example.com:50999",
    }


def test_browsable_api_offers_an_upload_form(user: User) -> None:
    client = APIClient()
    client.force_login(user)

    response = client.get("/api/v1/files/", HTTP_ACCEPT="text/html")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file"' in html and 'name="file"' in html
