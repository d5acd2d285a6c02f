"""CreateUploadSession and AbortUploadSession over a real channel, and the type policy
of WriteObject."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.settings import Settings
from storage_service.tests.conftest import count_rows
from storage_service.tests.tus import (
    METADATA,
    abort_session,
    blob_files,
    offset_of,
    open_session,
    outbox_events,
    partial_path,
    patch,
    sha,
    upload_ended,
)
from usp.storage_client import StorageClient
from usp.v1 import storage_service_pb2, storage_service_pb2_grpc

Stub = storage_service_pb2_grpc.StorageServiceStub
DATA = b"<html><body>not an image</body></html>\n"


def refused(stub: Stub, **fields: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as excinfo:
        open_session(stub, **fields)
    return excinfo.value


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_asking_again_for_the_same_file_returns_the_same_open_session(
    stub: Stub, sessions: sessionmaker[Session]
) -> None:
    first = open_session(stub, size=100, declared_sha256=sha(b"x"))
    assert patch(first.upload_url, b"a" * 10, 0).status_code == 204

    again = open_session(stub, size=100, declared_sha256=sha(b"x"))

    assert (again.session_id, again.upload_url, again.offset) == (
        first.session_id,
        first.upload_url,
        10,
    )
    assert again.expires_at == first.expires_at
    assert count_rows(sessions, db.UploadSession) == 1


def test_concurrent_requests_for_one_file_share_one_session(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda _: open_session(stub, size=100), range(8)))

    assert len({session.session_id for session in created}) == 1
    assert count_rows(sessions, db.UploadSession) == 1
    assert [path.name for path in (settings.blob_dir / "partial").iterdir()] == [
        created[0].session_id
    ]


@pytest.mark.parametrize(
    "changed",
    [{"size": 101}, {"owner_id": "user-2"}, {"declared_sha256": sha(b"y")}],
    ids=["size", "owner", "sha256"],
)
def test_different_session_for_a_file_with_an_open_one_already_exists(
    stub: Stub, changed: dict[str, object]
) -> None:
    open_session(stub, size=100, declared_sha256=sha(b"x"))

    error = refused(stub, **{"size": 100, "declared_sha256": sha(b"x"), **changed})

    assert error.code() == grpc.StatusCode.ALREADY_EXISTS


def test_session_for_a_file_already_stored_already_exists(
    stub: Stub, client: StorageClient
) -> None:
    client.write_object([DATA], file_id="file-1")

    assert refused(stub, size=len(DATA)).code() == grpc.StatusCode.ALREADY_EXISTS


def test_size_over_the_limit_is_resource_exhausted(stub: Stub, settings: Settings) -> None:
    error = refused(stub, size=settings.max_upload_size + 1)

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (
        error.details() == f"size {settings.max_upload_size + 1} exceeds the 5368709120 byte limit"
    )


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"size": -1}, "declared size must not be negative, got -1"),
        ({"size": 1, "owner_id": ""}, "owner_id is required"),
        ({"size": 1, "file_id": ""}, "file_id is required"),
        (
            {"size": 1, "declared_sha256": "abc"},
            "declared sha256 must be 64 lowercase hex characters",
        ),
        ({"size": 1, "pipeline": ["ocr"]}, "unknown pipeline step 'ocr'"),
        ({"size": 1, "allowed_types": ["images"]}, "not a MIME type pattern: 'images'"),
        ({"size": 1, "expires_in_seconds": -5}, "expires_in_seconds must not be negative"),
    ],
)
def test_invalid_session_requests_are_refused_and_open_nothing(
    stub: Stub, settings: Settings, fields: dict[str, object], details: str
) -> None:
    error = refused(stub, **fields)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(details)
    assert list((settings.blob_dir / "partial").iterdir()) == []


def test_abort_ends_the_open_session_once(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    url = open_session(stub, size=100).upload_url
    assert patch(url, b"a" * 10, 0).status_code == 204

    assert abort_session(stub, "file-1") is True
    assert abort_session(stub, "file-1") is False

    assert not partial_path(settings, url).exists()
    assert outbox_events(sessions) == [upload_ended("aborted")]
    assert offset_of(open_session(stub, size=100).upload_url) == 0


def test_deleting_a_file_ends_its_unfinished_upload(
    stub: Stub, client: StorageClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    url = open_session(stub, size=100).upload_url
    assert patch(url, b"a" * 10, 0).status_code == 204

    assert client.delete_file("file-1") == 0

    assert not partial_path(settings, url).exists()
    assert outbox_events(sessions) == [upload_ended("aborted")]
    assert patch(url, b"a" * 90, 10).status_code == 404


def test_abort_of_a_file_without_a_session_reports_nothing_aborted(stub: Stub) -> None:
    assert abort_session(stub, "no-such-file") is False


def write_with_policy(
    stub: Stub, data: bytes, *patterns: str
) -> storage_service_pb2.WriteObjectResponse:
    header = storage_service_pb2.WriteHeader(
        file_id="file-1", name="photo.png", allowed_types=list(patterns)
    )
    requests = [
        storage_service_pb2.WriteObjectRequest(header=header),
        storage_service_pb2.WriteObjectRequest(chunk=data),
    ]
    return stub.WriteObject(iter(requests), metadata=METADATA, timeout=10)


def test_write_object_refuses_a_sniffed_type_outside_its_policy(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        write_with_policy(stub, DATA, "image/*")

    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert excinfo.value.details() == "type_not_allowed: text/plain is not allowed"
    assert blob_files(settings) == []
    assert list((settings.blob_dir / "tmp").iterdir()) == []
    assert count_rows(sessions, db.OutboxMessage) == 0


def test_write_object_stores_a_sniffed_type_its_policy_names(stub: Stub) -> None:
    response = write_with_policy(stub, png_bytes(), "text/*", "image/png")

    assert response.object.content_type == "image/png"


def test_write_object_refuses_a_malformed_policy(stub: Stub, settings: Settings) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        write_with_policy(stub, DATA, "text")

    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert blob_files(settings) == []
