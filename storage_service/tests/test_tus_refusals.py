"""Data plane refusals: each a precise status, and nothing stored or changed."""

from __future__ import annotations

import base64
import hashlib
import io
import time

import pytest
import requests
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from storage_service.server import StorageServer
from storage_service.settings import Settings
from storage_service.signing import Signer, UploadClaims, to_query
from storage_service.tests.tus import (
    OCTETS,
    TUS,
    blob_files,
    head,
    job_rows,
    offset_of,
    open_session,
    outbox_events,
    partial_path,
    patch,
    session_id_of,
    sha,
    upload_ended,
    with_query,
)
from tests.waiting import wait_for
from usp.v1 import storage_service_pb2_grpc

DATA = b"0123456789abcdef" * 1000
Stub = storage_service_pb2_grpc.StorageServiceStub


def started(stub: Stub, settings: Settings, **fields: object) -> str:
    """A session of DATA's size with its first 1000 bytes received; returns its URL."""
    url = open_session(stub, size=len(DATA), **fields).upload_url
    assert patch(url, DATA[:1000], 0).status_code == 204
    return url


def assert_unchanged(url: str, settings: Settings) -> None:
    """The upload still holds exactly the first 1000 bytes, and nothing was stored."""
    assert offset_of(url) == 1000
    assert partial_path(settings, url).read_bytes() == DATA[:1000]
    assert blob_files(settings) == []


def signed_url(server: StorageServer, claims: UploadClaims) -> str:
    location = Signer(server.settings.signing_keys).sign(claims)
    return f"{server.public_url}/uploads/{claims.session_id}?{to_query(location)}"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- the signed location ---------------------------------------------------------------


@pytest.mark.parametrize(
    "tampering",
    [
        {"owner": "user-2"},
        {"size": str(len(DATA) + 1)},
        {"expires": str(int(time.time()) + 10 * 86400)},
        {"sig": base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("=")},
        {"sig": "not base64 at all!"},
        {"kid": "retired"},
    ],
    ids=["owner", "size", "expiry", "signature", "malformed signature", "unknown key id"],
)
@pytest.mark.parametrize("method", ["HEAD", "PATCH", "DELETE", "PUT"])
def test_tampered_location_is_forbidden_and_changes_nothing(
    stub: Stub, settings: Settings, tampering: dict[str, str], method: str
) -> None:
    url = started(stub, settings)
    tampered = with_query(url, **tampering)
    headers = {**OCTETS, "Upload-Offset": "1000"}

    response = requests.request(method, tampered, data=DATA[1000:], headers=headers, timeout=10)

    assert response.status_code == 403
    assert_unchanged(url, settings)


def test_unsigned_location_is_forbidden(stub: Stub, settings: Settings) -> None:
    url = started(stub, settings)

    response = requests.head(url.split("?")[0], headers=TUS, timeout=10)

    assert response.status_code == 403
    assert_unchanged(url, settings)


def test_location_past_its_expiry_is_gone(
    stub: Stub, server: StorageServer, settings: Settings
) -> None:
    url = started(stub, settings)
    claims = UploadClaims(session_id_of(url), "user-1", len(DATA), int(time.time()) - 1)

    response = patch(signed_url(server, claims), DATA[1000:], 1000)

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "expired"
    assert_unchanged(url, settings)


def test_session_that_expired_refuses_its_location(stub: Stub, settings: Settings) -> None:
    url = open_session(stub, size=len(DATA), expires_in_seconds=1).upload_url

    wait_for(lambda: head(url).status_code == 410, timeout=5, what="the session's expiry")

    assert patch(url, DATA, 0).status_code == 410
    assert blob_files(settings) == []


def test_validly_signed_location_of_an_unknown_session_is_not_found(
    server: StorageServer,
) -> None:
    claims = UploadClaims("0" * 32, "user-1", 10, int(time.time()) + 600)

    assert head(signed_url(server, claims)).status_code == 404


def test_location_of_a_completed_upload_is_not_found_and_stores_nothing_more(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    url = open_session(stub, size=len(DATA)).upload_url
    assert patch(url, DATA, 0).status_code == 204

    assert head(url).status_code == 404
    assert patch(url, DATA, 0).status_code == 404
    assert requests.put(url, data=DATA, timeout=10).status_code == 404
    assert len(blob_files(settings)) == 1
    assert len(outbox_events(sessions)) == 1


def test_foreign_path_is_not_found(server: StorageServer) -> None:
    response = requests.get(f"{server.public_url}/nothing-here", timeout=10)

    assert response.status_code == 404


# -- protocol errors -------------------------------------------------------------------


def test_patch_at_the_wrong_offset_conflicts_and_changes_nothing(
    stub: Stub, settings: Settings
) -> None:
    url = started(stub, settings)

    for wrong in (0, 999, 1001):
        response = patch(url, DATA[wrong:], wrong)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "offset_mismatch"
    assert_unchanged(url, settings)


def test_chunk_checksum_mismatch_discards_the_chunk_and_keeps_the_offset(
    stub: Stub, settings: Settings
) -> None:
    url = started(stub, settings)
    wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()

    response = patch(url, DATA[1000:5000], 1000, **{"Upload-Checksum": f"sha256 {wrong}"})

    assert response.status_code == 460
    assert response.json()["error"]["code"] == "checksum_mismatch"
    assert_unchanged(url, settings)
    assert patch(url, DATA[1000:], 1000).status_code == 204
    assert blob_files(settings)[0].read_bytes() == DATA


@pytest.mark.parametrize("header", ["crc32 AAAA", "sha256 not*base64", "sha256"])
def test_unusable_checksum_header_is_a_bad_request(
    stub: Stub, settings: Settings, header: str
) -> None:
    url = started(stub, settings)

    response = patch(url, DATA[1000:], 1000, **{"Upload-Checksum": header})

    assert response.status_code == 400
    assert_unchanged(url, settings)


def test_body_declared_past_the_size_is_refused_before_a_byte_is_written(
    stub: Stub, settings: Settings
) -> None:
    url = started(stub, settings)

    response = patch(url, DATA[1000:] + b"extra", 1000)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert_unchanged(url, settings)


def test_streamed_body_running_past_the_size_is_refused_and_none_of_it_kept(
    stub: Stub, settings: Settings
) -> None:
    url = started(stub, settings)
    pieces = [DATA[1000:8000], DATA[8000:], b"one byte too many"]

    response = patch(url, iter(pieces), 1000)

    assert (response.status_code, response.headers["Connection"]) == (413, "close")
    assert_unchanged(url, settings)


def test_patch_without_the_offset_media_type_is_unsupported(stub: Stub, settings: Settings) -> None:
    url = started(stub, settings)

    response = patch(url, DATA[1000:], 1000, **{"Content-Type": "application/octet-stream"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert_unchanged(url, settings)


def test_patch_without_an_offset_is_a_bad_request(stub: Stub, settings: Settings) -> None:
    url = started(stub, settings)

    response = requests.patch(url, data=DATA[1000:], headers=OCTETS, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "the Upload-Offset header is required"
    assert_unchanged(url, settings)


def test_unsupported_protocol_version_is_a_failed_precondition(
    stub: Stub, settings: Settings
) -> None:
    url = started(stub, settings)

    response = patch(url, DATA[1000:], 1000, **{"Tus-Resumable": "0.2.2"})

    assert (response.status_code, response.headers["Tus-Version"]) == (412, "1.0.0")
    assert_unchanged(url, settings)


@pytest.mark.parametrize(
    ("length", "status"), [(len(DATA) - 1, 400), (len(DATA) + 1, 413), ("", 400)]
)
def test_creation_post_must_declare_the_session_size(
    stub: Stub, settings: Settings, length: object, status: int
) -> None:
    url = started(stub, settings)

    response = requests.post(url, headers={**TUS, "Upload-Length": str(length)}, timeout=10)

    assert response.status_code == status
    assert_unchanged(url, settings)


def test_creation_with_upload_after_bytes_arrived_conflicts(stub: Stub, settings: Settings) -> None:
    url = started(stub, settings)
    headers = {**OCTETS, "Upload-Length": str(len(DATA))}

    response = requests.post(url, data=DATA, headers=headers, timeout=10)

    assert response.status_code == 409
    assert_unchanged(url, settings)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [(DATA + b"!", 413, "too_large"), (DATA[:-1], 400, "size_mismatch")],
)
def test_put_of_another_size_is_refused_and_changes_nothing(
    stub: Stub, settings: Settings, body: bytes, status: int, code: str
) -> None:
    url = started(stub, settings)

    response = requests.put(url, data=body, timeout=10)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert_unchanged(url, settings)


def test_unknown_method_is_not_allowed(stub: Stub, settings: Settings) -> None:
    url = started(stub, settings)

    response = requests.get(url, timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, HEAD, PATCH, POST, PUT, DELETE"


# -- verification at the last byte -----------------------------------------------------


def test_wrong_declared_sha256_rejects_the_upload_and_stores_nothing(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    declared = sha(b"something else")
    url = started(stub, settings, declared_sha256=declared)

    response = patch(url, DATA[1000:], 1000)

    message = f"sha256 mismatch: declared {declared}, received {sha(DATA)}"
    assert response.status_code == 422
    assert response.json() == {"error": {"code": "sha256_mismatch", "message": message}}
    assert blob_files(settings) == []
    assert not partial_path(settings, url).exists()
    assert outbox_events(sessions) == [upload_ended("rejected", "sha256_mismatch", message)]
    assert job_rows(sessions) == 0
    assert head(url).status_code == 404


def test_sniffed_type_outside_the_policy_rejects_the_upload_whatever_its_name(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    url = open_session(
        stub, size=len(DATA), name="holiday.png", allowed_types=["image/*", "application/pdf"]
    ).upload_url

    response = patch(url, DATA, 0)

    message = "type text/plain is not allowed"
    assert response.status_code == 415
    assert response.json() == {"error": {"code": "type_not_allowed", "message": message}}
    assert blob_files(settings) == []
    assert not partial_path(settings, url).exists()
    assert outbox_events(sessions) == [upload_ended("rejected", "type_not_allowed", message)]


def test_image_bytes_under_a_text_only_policy_are_rejected(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    image = png_bytes()
    url = open_session(stub, size=len(image), name="notes.txt", allowed_types=["text/*"])

    response = requests.put(url.upload_url, data=image, timeout=10)

    assert (response.status_code, response.json()["error"]["code"]) == (415, "type_not_allowed")
    assert blob_files(settings) == []


# -- termination -----------------------------------------------------------------------


def test_delete_aborts_the_upload_and_removes_its_bytes(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    url = started(stub, settings)

    response = requests.delete(url, headers=TUS, timeout=10)

    assert response.status_code == 204
    assert not partial_path(settings, url).exists()
    assert outbox_events(sessions) == [upload_ended("aborted")]
    assert head(url).status_code == 404
    assert requests.delete(url, headers=TUS, timeout=10).status_code == 404
    assert patch(url, DATA[1000:], 1000).status_code == 404
    assert blob_files(settings) == []
