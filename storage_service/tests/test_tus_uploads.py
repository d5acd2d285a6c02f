"""Resumable uploads that succeed: tus PATCHes, creation-with-upload, plain PUT, zero bytes,
and the reference Python client."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker
from tusclient.client import TusClient

from storage_service.server import StorageServer
from storage_service.settings import Settings
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
    sha,
)
from usp import events
from usp.storage_client import StorageClient, StoredObject
from usp.v1 import common_pb2, storage_service_pb2, storage_service_pb2_grpc

DATA = b"resumable bytes, line after line\n" * 3000


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_patches_in_pieces_store_the_object_and_dispatch_its_jobs(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    client: StorageClient,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    session = open_session(stub, size=len(DATA), declared_sha256=sha(DATA))
    url = session.upload_url

    first = head(url)
    assert (first.status_code, first.headers["Upload-Offset"]) == (200, "0")
    assert first.headers["Upload-Length"] == str(len(DATA))
    assert first.headers["Cache-Control"] == "no-store"
    assert first.headers["Tus-Resumable"] == "1.0.0"
    offset = 0
    for piece in (DATA[:1000], DATA[1000:50_000], DATA[50_000:]):
        response = patch(url, piece, offset)
        assert response.status_code == 204
        offset += len(piece)
        assert response.headers["Upload-Offset"] == str(offset)
        assert "Upload-Expires" in response.headers

    assert client.stat_object(sha(DATA)) == StoredObject(sha(DATA), len(DATA), "text/plain")
    assert b"".join(client.read_object(sha(DATA))) == DATA
    stored = outbox_events(sessions)
    assert [(event.type, event.file_id) for event in stored] == [(events.FILE_STORED, "file-1")]
    payload = stored[0].payload
    assert isinstance(payload, storage_service_pb2.FileStored)
    assert payload.object == common_pb2.ObjectInfo(
        checksum=common_pb2.Checksum(sha256=sha(DATA)), size=len(DATA), content_type="text/plain"
    )
    assert [job.step for job in payload.jobs] == ["text.stats", "checksum"]
    assert job_rows(sessions) == 2
    assert not partial_path(settings, url).exists()


def test_session_reports_its_signed_location_expiry_and_size(
    stub: storage_service_pb2_grpc.StorageServiceStub, server: StorageServer, settings: Settings
) -> None:
    before = time.time()
    session = open_session(stub, size=10, expires_in_seconds=600)

    base = f"http://127.0.0.1:{server.http_port}/uploads/{session.session_id}?"
    assert session.upload_url.startswith(base)
    assert (session.max_size, session.offset, session.expires_at.nanos) == (10, 0, 0)
    assert before + 600 <= session.expires_at.seconds <= time.time() + 601
    expires = parsedate_to_datetime(head(session.upload_url).headers["Upload-Expires"])
    assert expires.timestamp() == session.expires_at.seconds
    assert partial_path(settings, session.upload_url).read_bytes() == b""


def test_pipeline_of_the_session_is_dispatched(
    stub: storage_service_pb2_grpc.StorageServiceStub, sessions: sessionmaker[Session]
) -> None:
    url = open_session(stub, size=len(DATA), pipeline=["checksum"]).upload_url

    assert patch(url, DATA, 0).status_code == 204

    payload = outbox_events(sessions)[0].payload
    assert isinstance(payload, storage_service_pb2.FileStored)
    assert [job.step for job in payload.jobs] == ["checksum"]


def test_post_to_the_location_confirms_creation_and_can_carry_the_first_bytes(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    url = open_session(stub, size=len(DATA)).upload_url

    confirmed = requests.post(url, headers={**TUS, "Upload-Length": str(len(DATA))}, timeout=10)
    assert (confirmed.status_code, confirmed.headers["Location"]) == (201, url)
    assert confirmed.headers["Upload-Offset"] == "0"
    created = requests.post(
        url,
        data=DATA[:5000],
        headers={**OCTETS, "Upload-Length": str(len(DATA))},
        timeout=10,
    )
    assert (created.status_code, created.headers["Upload-Offset"]) == (201, "5000")
    assert created.headers["Location"] == url
    assert patch(url, DATA[5000:], 5000).status_code == 204
    assert client.stat_object(sha(DATA)).size == len(DATA)


def test_creation_with_upload_of_every_byte_completes_the_upload(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    url = open_session(stub, size=len(DATA)).upload_url

    response = requests.post(
        url, data=DATA, headers={**OCTETS, "Upload-Length": str(len(DATA))}, timeout=10
    )

    assert (response.status_code, response.headers["Upload-Offset"]) == (201, str(len(DATA)))
    assert client.stat_object(sha(DATA)).size == len(DATA)
    assert head(url).status_code == 404


def test_plain_put_of_the_whole_body_stores_it_and_describes_it(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    url = open_session(stub, size=len(DATA)).upload_url

    response = requests.put(url, data=DATA, timeout=10)

    assert response.status_code == 200
    assert response.json() == {
        "file_id": "file-1",
        "sha256": sha(DATA),
        "size": len(DATA),
        "content_type": "text/plain",
    }
    assert client.stat_object(sha(DATA)).size == len(DATA)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_curl_upload_file_completes_an_upload(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB: curl asks "Expect: 100-continue" first
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    url = open_session(stub, size=len(data)).upload_url

    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--fail", "-T", str(source), url],
        capture_output=True,
        check=True,
        timeout=30,
    )

    assert json.loads(result.stdout)["sha256"] == sha(data)
    assert client.stat_object(sha(data)).size == len(data)


def test_put_starts_over_from_the_first_byte(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    url = open_session(stub, size=len(DATA)).upload_url
    assert patch(url, b"X" * 100, 0).status_code == 204

    assert requests.put(url, data=DATA, timeout=10).status_code == 200

    assert b"".join(client.read_object(sha(DATA))) == DATA


def test_chunked_put_that_ends_early_keeps_its_bytes_for_a_resume(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    url = open_session(stub, size=len(DATA)).upload_url

    response = requests.put(url, data=iter([DATA[:7000]]), timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "incomplete_upload"
    assert (response.headers["Upload-Offset"], offset_of(url)) == ("7000", 7000)
    assert patch(url, DATA[7000:], 7000).status_code == 204
    assert client.stat_object(sha(DATA)).size == len(DATA)


def test_zero_byte_upload_completes_with_an_empty_put(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    url = open_session(stub, size=0, declared_sha256=sha(b"")).upload_url

    response = requests.put(url, data=b"", timeout=10)

    assert response.status_code == 200
    assert response.json()["size"] == 0
    assert client.stat_object(sha(b"")) == StoredObject(sha(b""), 0, "application/x-empty")


def test_zero_byte_upload_completes_with_its_creation_post(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    client: StorageClient,
    sessions: sessionmaker[Session],
) -> None:
    url = open_session(stub, size=0).upload_url

    response = requests.post(url, headers={**TUS, "Upload-Length": "0"}, timeout=10)

    assert (response.status_code, response.headers["Upload-Offset"]) == (201, "0")
    assert client.stat_object(sha(b"")).size == 0
    assert [event.type for event in outbox_events(sessions)] == [events.FILE_STORED]
    assert head(url).status_code == 404


def test_zero_byte_upload_completes_when_a_client_asks_for_its_offset(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    url = open_session(stub, size=0).upload_url

    response = head(url)

    assert (response.status_code, response.headers["Upload-Offset"]) == (200, "0")
    assert client.stat_object(sha(b"")).size == 0


def test_matching_chunk_checksums_are_accepted(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    url = open_session(stub, size=len(DATA)).upload_url
    offset = 0
    for piece, algorithm in (
        (DATA[:4000], "sha256"),
        (DATA[4000:9000], "sha1"),
        (DATA[9000:], "md5"),
    ):
        digest = base64.b64encode(hashlib.new(algorithm, piece).digest()).decode()
        response = patch(url, piece, offset, **{"Upload-Checksum": f"{algorithm} {digest}"})
        assert response.status_code == 204
        offset += len(piece)

    assert client.stat_object(sha(DATA)).size == len(DATA)


def test_identical_bytes_uploaded_for_two_files_are_stored_once(
    stub: storage_service_pb2_grpc.StorageServiceStub, settings: Settings, client: StorageClient
) -> None:
    for file_id in ("file-1", "file-2"):
        url = open_session(stub, file_id=file_id, size=len(DATA)).upload_url
        assert patch(url, DATA, 0).status_code == 204

    assert len(blob_files(settings)) == 1
    assert client.delete_file("file-1") == 0
    assert client.delete_file("file-2") == 1
    assert blob_files(settings) == []


def test_type_policy_admits_a_sniffed_type_it_names(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient
) -> None:
    image = png_bytes()
    url = open_session(stub, size=len(image), allowed_types=["image/*"], name="x.txt").upload_url

    assert patch(url, image, 0).status_code == 204

    assert client.stat_object(sha(image)).content_type == "image/png"


def test_tuspy_uploads_a_file_to_completion(
    stub: storage_service_pb2_grpc.StorageServiceStub, client: StorageClient, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, sent in several PATCHes with checksums
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    url = open_session(stub, size=len(data), declared_sha256=sha(data)).upload_url

    tus_client = TusClient(url.split("/uploads/")[0] + "/uploads/")
    uploader = tus_client.uploader(
        file_path=str(source), url=url, chunk_size=300_000, upload_checksum=True
    )
    uploader.upload()

    assert uploader.offset == len(data)
    assert client.stat_object(sha(data)) == StoredObject(
        sha(data), len(data), "application/octet-stream"
    )


def test_json_error_envelope_names_the_refusal(
    stub: storage_service_pb2_grpc.StorageServiceStub,
) -> None:
    url = open_session(stub, size=len(DATA)).upload_url

    response = patch(url, DATA[:10], 5)

    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": {
            "code": "offset_mismatch",
            "message": "Upload-Offset 5 does not match the upload's offset 0",
        }
    }
