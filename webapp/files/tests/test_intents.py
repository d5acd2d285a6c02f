from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC
from typing import Any

import grpc
import pytest
from rest_framework.test import APIClient

from usp.v1 import storage_service_pb2
from webapp.accounts.models import Usage, User
from webapp.files.models import File, FileState, UploadIntent
from webapp.files.tests.factories import file_make
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.files.tests.resources import file_json, iso, usage_of

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
SHA = hashlib.sha256(b"hello world").hexdigest()


def intent(client: APIClient, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/uploads/", body, format="json", **headers)


def session_of(fake: FakeStorageServer, file_id: str) -> storage_service_pb2.UploadSession:
    return fake.storage.sessions[file_id]


# --- success -----------------------------------------------------------------------------


def test_intent_creates_the_file_reserves_its_size_and_returns_the_upload_session(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    response = intent(
        api_client,
        {"name": "report.pdf", "size": 11, "sha256": SHA.upper(), "pipeline": "checksum"},
    )

    assert response.status_code == 201, response.content
    file = File.objects.get()
    session = session_of(fake_storage, str(file.id))
    assert response.json() == {
        "file_id": str(file.id),
        "upload_url": session.upload_url,
        "expires_at": iso(session.expires_at.ToDatetime(tzinfo=UTC)),
        "max_size": 11,
        "file": file_json(file),
    }
    assert response.json()["file"]["state"] == "awaiting_upload"
    assert response.json()["file"]["name"] == "report.pdf"
    assert session.upload_url.startswith("http://127.0.0.1:8001/uploads/")
    assert fake_storage.storage.session_requests == [
        storage_service_pb2.CreateUploadSessionRequest(
            file_id=str(file.id),
            owner_id=str(user.pk),
            name="report.pdf",
            size=11,
            declared_sha256=SHA,
            pipeline=["checksum"],
            allowed_types=[],
            expires_in_seconds=86_400,
        )
    ]
    assert (file.owner, file.charged_bytes, usage_of(user)) == (user, 11, (11, 1))


def test_intent_sends_the_type_policy_and_expiry_to_storage_and_accepts_a_pipeline_list(
    api_client: APIClient, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    usp_settings(allowed_types=("image/*", "application/pdf"), upload_expiry=600)

    response = intent(
        api_client, {"name": "p.png", "size": 5, "pipeline": ["metadata", "image.thumbnail"]}
    )

    assert response.status_code == 201, response.content
    (request,) = fake_storage.storage.session_requests
    assert (list(request.allowed_types), request.expires_in_seconds, list(request.pipeline)) == (
        ["image/*", "application/pdf"],
        600,
        ["metadata", "image.thumbnail"],
    )


def test_zero_byte_intent_is_accepted(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    response = intent(api_client, {"name": "empty.txt", "size": 0})

    assert response.status_code == 201, response.content
    assert response.json()["max_size"] == 0
    assert usage_of(user) == (0, 1)


# --- refusals before anything moves ------------------------------------------------------


def test_intent_over_the_size_limit_is_413_too_large_and_reserves_nothing(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(max_upload_size=MIB)

    response = intent(api_client, {"name": "big.bin", "size": MIB + 1})

    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": f"The file is too large: {MIB + 1} bytes; "
            f"uploads may be at most {MIB} bytes.",
        }
    }
    assert (File.objects.count(), usage_of(user), fake_storage.storage.session_requests) == (
        0,
        (0, 0),
        [],
    )


def test_intent_at_exactly_the_size_limit_is_accepted(
    api_client: APIClient, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    usp_settings(max_upload_size=MIB)

    assert intent(api_client, {"name": "big.bin", "size": MIB}).status_code == 201


def test_intent_past_the_byte_quota_is_413_quota_exceeded_and_reserves_nothing(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(quota_bytes=10 * MIB)
    assert intent(api_client, {"name": "a.bin", "size": 6 * MIB}).status_code == 201

    response = intent(api_client, {"name": "b.bin", "size": 4 * MIB + 1})

    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "quota_exceeded",
            "message": f"This upload of {4 * MIB + 1} bytes would pass your storage quota: "
            f"{6 * MIB} of {10 * MIB} bytes are in use.",
        }
    }
    assert (File.objects.count(), usage_of(user)) == (1, (6 * MIB, 1))
    assert intent(api_client, {"name": "c.bin", "size": 4 * MIB}).status_code == 201
    assert usage_of(user) == (10 * MIB, 2)


def test_intent_past_the_file_quota_is_413_quota_exceeded(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(quota_files=2)
    for name in ("a.txt", "b.txt"):
        assert intent(api_client, {"name": name, "size": 1}).status_code == 201

    response = intent(api_client, {"name": "c.txt", "size": 1})

    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "quota_exceeded",
            "message": "You have reached your quota of 2 files; delete some to upload more.",
        }
    }
    assert (File.objects.count(), usage_of(user)) == (2, (2, 2))


def test_quotas_are_per_user(
    api_client: APIClient,
    other_user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(quota_files=1)
    file_make(owner=other_user)
    Usage.objects.create(user=other_user, bytes_used=6, files_used=1)

    assert intent(api_client, {"name": "mine.txt", "size": 1}).status_code == 201


@pytest.mark.parametrize(
    ("name", "claimed"),
    [("notes.txt", "text/plain"), ("archive", "application/octet-stream")],
)
def test_intent_whose_name_claims_a_type_outside_the_policy_is_415(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
    name: str,
    claimed: str,
) -> None:
    usp_settings(allowed_types=("image/*", "application/pdf"))

    response = intent(api_client, {"name": name, "size": 3})

    assert response.status_code == 415
    assert response.json() == {
        "error": {
            "code": "type_not_allowed",
            "message": f"Files of type {claimed} are not accepted here; "
            "allowed: image/*, application/pdf.",
        }
    }
    assert (File.objects.count(), usage_of(user), fake_storage.storage.session_requests) == (
        0,
        (0, 0),
        [],
    )


def test_intent_whose_name_claims_an_allowed_type_is_accepted(
    api_client: APIClient, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    usp_settings(allowed_types=("image/*", "application/pdf"))

    assert intent(api_client, {"name": "scan.PDF", "size": 3}).status_code == 201
    assert intent(api_client, {"name": "photo.jpeg", "size": 3}).status_code == 201


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"size": 1}, {"name": ["This field is required."]}),
        ({"name": "", "size": 1}, {"name": ["This field may not be blank."]}),
        (
            {"name": "x" * 5001, "size": 1},
            {"name": ["Ensure this field has no more than 5000 characters."]},
        ),
        ({"name": "a"}, {"size": ["This field is required."]}),
        ({"name": "a", "size": -1}, {"size": ["Ensure this value is greater than or equal to 0."]}),
        ({"name": "a", "size": 1.5}, {"size": ["A valid integer is required."]}),
        ({"name": "a", "size": "many"}, {"size": ["A valid integer is required."]}),
        (
            {"name": "a", "size": 1, "sha256": "ab" * 31},
            {"sha256": ["This value does not match the required pattern."]},
        ),
        (
            {"name": "a", "size": 1, "sha256": "g" * 64},
            {"sha256": ["This value does not match the required pattern."]},
        ),
        (
            {"name": "a", "size": 1, "pipeline": [1, 2]},
            {"pipeline": ["A list of step names or a comma-separated string."]},
        ),
    ],
)
def test_invalid_intent_is_400_naming_the_field_and_creates_nothing(
    api_client: APIClient,
    fake_storage: FakeStorageServer,
    body: dict[str, Any],
    fields: dict[str, list[str]],
) -> None:
    response = intent(api_client, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["fields"]) == ("invalid_input", fields)
    assert (File.objects.count(), fake_storage.storage.session_requests) == (0, [])


def test_intent_with_an_invalid_step_is_400_invalid_pipeline(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = intent(api_client, {"name": "a", "size": 1, "pipeline": ["metadata", "Rm -rf"]})

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_pipeline",
            "message": "Invalid step name: 'Rm -rf'.",
            "fields": {"pipeline": ["Step names are lowercase letters, digits, '.', '_', '-'."]},
        }
    }
    assert File.objects.count() == 0


def test_intent_as_a_form_is_415_unsupported_media_type(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = api_client.post("/api/v1/uploads/", {"name": "a", "size": 1}, format="multipart")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_anonymous_intent_is_401(fake_storage: FakeStorageServer) -> None:
    response = APIClient().post("/api/v1/uploads/", {"name": "a", "size": 1}, format="json")

    assert response.status_code == 401
    assert File.objects.count() == 0


# --- storage unavailable -----------------------------------------------------------------


def test_intent_when_storage_is_unreachable_is_503_releases_the_reservation_and_leaves_no_file(
    api_client: APIClient, user: User, storage_down: str
) -> None:
    response = intent(api_client, {"name": "a.txt", "size": 100}, key="k1")

    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "storage_unavailable",
            "message": "The storage service is unavailable right now; nothing was stored. "
            "Try again shortly.",
        }
    }
    assert (File.objects.count(), UploadIntent.objects.count(), usage_of(user)) == (0, 0, (0, 0))


def test_intent_refused_by_storage_keeps_its_reason_and_releases_the_reservation(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    fake_storage.storage.refuse_sessions = (grpc.StatusCode.INVALID_ARGUMENT, "bad session")

    response = intent(api_client, {"name": "a.txt", "size": 100})

    assert response.status_code == 400
    assert response.json() == {"error": {"code": "rejected_by_storage", "message": "bad session"}}
    assert (File.objects.count(), usage_of(user)) == (0, (0, 0))


def test_a_retry_after_storage_was_unreachable_opens_a_session(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    fake_storage.storage.refuse_sessions = (grpc.StatusCode.UNAVAILABLE, "down")
    assert intent(api_client, {"name": "a.txt", "size": 100}, key="k1").status_code == 503
    fake_storage.storage.refuse_sessions = None

    response = intent(api_client, {"name": "a.txt", "size": 100}, key="k1")

    assert response.status_code == 201, response.content
    assert (File.objects.count(), usage_of(user)) == (1, (100, 1))


# --- idempotency -------------------------------------------------------------------------


def test_retried_intent_with_the_same_key_returns_the_same_body_and_reserves_once(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    body = {"name": "video.mp4", "size": 2048, "pipeline": "metadata"}

    first = intent(api_client, body, key="upload-1")
    second = intent(api_client, body, key="upload-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert (File.objects.count(), usage_of(user)) == (1, (2048, 1))
    assert len(fake_storage.storage.session_requests) == 1


def test_same_key_with_a_different_body_is_422_idempotency_key_reused(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    assert intent(api_client, {"name": "a.txt", "size": 10}, key="k").status_code == 201

    response = intent(api_client, {"name": "a.txt", "size": 11}, key="k")

    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "idempotency_key_reused",
            "message": "This Idempotency-Key was already used for a different upload; "
            "use a new key for a new upload.",
        }
    }
    assert (File.objects.count(), usage_of(user)) == (1, (10, 1))


def test_sha256_case_does_not_make_a_different_request(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    first = intent(api_client, {"name": "a", "size": 11, "sha256": SHA}, key="k")
    second = intent(api_client, {"name": "a", "size": 11, "sha256": SHA.upper()}, key="k")

    assert (second.status_code, second.json()) == (201, first.json())


def test_different_keys_make_different_uploads(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    body = {"name": "a.txt", "size": 10}

    first = intent(api_client, body, key="k1").json()
    second = intent(api_client, body, key="k2").json()

    assert first["file_id"] != second["file_id"]
    assert first["upload_url"] != second["upload_url"]
    assert usage_of(user) == (20, 2)


def test_the_same_key_of_another_user_is_another_upload(
    api_client: APIClient, other_user: User, fake_storage: FakeStorageServer
) -> None:
    from webapp.accounts.tests.factories import token_make

    theirs = APIClient()
    theirs.credentials(HTTP_AUTHORIZATION=f"Token {token_make(other_user)}")
    body = {"name": "a.txt", "size": 10}

    mine = intent(api_client, body, key="k").json()
    other = intent(theirs, body, key="k").json()

    assert mine["file_id"] != other["file_id"]


def test_an_idempotency_key_longer_than_255_characters_is_400(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = intent(api_client, {"name": "a", "size": 1}, key="k" * 256)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert File.objects.count() == 0


# --- delete of an unfinished upload ------------------------------------------------------


def test_deleting_an_unfinished_upload_aborts_its_session_and_releases_its_reservation(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    created = intent(api_client, {"name": "a.txt", "size": 100}).json()
    assert usage_of(user) == (100, 1)

    response = api_client.delete(f"/api/v1/files/{created['file_id']}/")

    assert (response.status_code, response.content) == (204, b"")
    assert fake_storage.storage.aborted == [created["file_id"]]
    assert (File.objects.count(), UploadIntent.objects.count(), usage_of(user)) == (0, 0, (0, 0))


def test_deleting_an_unfinished_upload_when_storage_is_unreachable_keeps_it_reserved(
    api_client: APIClient, user: User, storage_down: str
) -> None:
    file = file_make(owner=user, state=FileState.AWAITING_UPLOAD, charged_bytes=100)
    Usage.objects.create(user=user, bytes_used=100, files_used=1)

    response = api_client.delete(f"/api/v1/files/{file.id}/")

    assert response.status_code == 503
    assert (File.objects.count(), usage_of(user)) == (1, (100, 1))


def test_deleting_a_stored_file_releases_its_usage(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    created = api_client.post(
        "/api/v1/files/", {"file": SimpleUploadedFile("a.txt", b"words")}, format="multipart"
    ).json()
    assert usage_of(user) == (5, 1)

    assert api_client.delete(f"/api/v1/files/{created['id']}/").status_code == 204

    assert usage_of(user) == (0, 0)
    assert fake_storage.storage.aborted == []


# --- usage -------------------------------------------------------------------------------


def test_usage_counts_reserved_and_stored_files_against_the_limits(
    api_client: APIClient, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    usp_settings(quota_bytes=1000, quota_files=5)
    intent(api_client, {"name": "a.txt", "size": 100})

    response = api_client.get("/api/v1/usage/")

    assert response.status_code == 200
    assert response.json() == {
        "bytes_used": 100,
        "bytes_limit": 1000,
        "files_used": 1,
        "files_limit": 5,
    }


def test_usage_of_a_new_user_is_zero_with_the_default_limits(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/usage/")

    assert response.json() == {
        "bytes_used": 0,
        "bytes_limit": 10 * 1024**3,
        "files_used": 0,
        "files_limit": 10_000,
    }


def test_usage_needs_authentication() -> None:
    assert APIClient().get("/api/v1/usage/").status_code == 401
