"""Writing, reading, describing and deleting objects through a real channel."""

from __future__ import annotations

import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from PIL import Image

from storage_service.server import StorageServer
from storage_service.settings import Settings
from usp.errors import ServiceError
from usp.storage_client import StorageClient, StoredObject

TEXT = b"hello, storage\n" * 1000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_path(settings: Settings, digest: str) -> Path:
    return settings.blob_dir / "objects" / digest[:2] / digest[2:4] / digest


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_written_object_reads_back_whole_and_in_ranges(client: StorageClient) -> None:
    data = bytes(range(256)) * 9000  # about 2.2 MiB: several chunks each way
    result = client.write_object([data], file_id="file-1", name="data.bin")

    assert result.object == StoredObject(sha(data), len(data), "application/octet-stream")
    assert result.created is True
    assert b"".join(client.read_object(sha(data))) == data
    assert (
        b"".join(client.read_object(sha(data), offset=1_000_000, length=1_500_000))
        == (data[1_000_000:2_500_000])
    )
    assert b"".join(client.read_object(sha(data), offset=len(data) - 10)) == data[-10:]
    assert b"".join(client.read_object(sha(data), offset=len(data))) == b""


def test_a_streamed_read_is_received_on_the_reading_thread(client: StorageClient) -> None:
    data = bytes(range(256)) * 9000  # several chunks: the call is under way after the first
    client.write_object([data], file_id="file-1", name="data.bin")
    before = set(threading.enumerate())

    chunks = client.read_object(sha(data))
    first = next(chunks)
    started = set(threading.enumerate()) - before

    assert (first + b"".join(chunks), started) == (data, set())


def test_stat_describes_the_stored_object(client: StorageClient) -> None:
    client.write_object([TEXT], file_id="file-1", name="notes.txt")

    assert client.stat_object(sha(TEXT)) == StoredObject(sha(TEXT), len(TEXT), "text/plain")


def test_blob_lives_at_its_content_address_with_the_same_bytes(
    client: StorageClient, settings: Settings
) -> None:
    client.write_object([TEXT], file_id="file-1")

    assert blob_path(settings, sha(TEXT)).read_bytes() == TEXT


def test_delete_removes_the_file_and_its_unreferenced_blob(
    client: StorageClient, settings: Settings
) -> None:
    client.write_object([TEXT], file_id="file-1")

    assert client.delete_file("file-1") == 1
    assert not blob_path(settings, sha(TEXT)).exists()
    with pytest.raises(ServiceError) as excinfo:
        client.stat_object(sha(TEXT))
    assert excinfo.value.status == grpc.StatusCode.NOT_FOUND


def test_deleting_an_unknown_file_removes_nothing(client: StorageClient) -> None:
    assert client.delete_file("never-stored") == 0


def test_identical_bytes_are_stored_once_and_kept_while_referenced(
    client: StorageClient, settings: Settings
) -> None:
    first = client.write_object([TEXT], file_id="file-a")
    second = client.write_object([TEXT[:7], TEXT[7:]], file_id="file-b")

    assert (first.created, second.created) == (True, False)
    assert first.object == second.object
    assert [p.name for p in (settings.blob_dir / "objects").rglob("*") if p.is_file()] == [
        sha(TEXT)
    ]
    assert client.delete_file("file-a") == 0
    assert blob_path(settings, sha(TEXT)).read_bytes() == TEXT
    assert client.delete_file("file-b") == 1
    assert not blob_path(settings, sha(TEXT)).exists()


def test_type_is_sniffed_from_the_bytes_not_the_name(client: StorageClient) -> None:
    result = client.write_object([png_bytes()], file_id="file-1", name="not-an-image.txt")

    assert result.object.content_type == "image/png"
    assert [job.step for job in result.jobs] == ["image.metadata", "image.thumbnail", "checksum"]


def test_empty_object_is_stored_as_empty(client: StorageClient) -> None:
    result = client.write_object([], file_id="file-1", declared_size=0)

    assert result.object == StoredObject(sha(b""), 0, "application/x-empty")
    assert b"".join(client.read_object(sha(b""))) == b""


def test_declared_size_and_sha256_that_match_are_accepted(client: StorageClient) -> None:
    result = client.write_object(
        [TEXT], file_id="file-1", declared_size=len(TEXT), declared_sha256=sha(TEXT)
    )

    assert result.object.sha256 == sha(TEXT)


def test_requested_pipeline_replaces_the_default(client: StorageClient) -> None:
    result = client.write_object([png_bytes()], file_id="file-1", pipeline=["checksum"])

    assert [job.step for job in result.jobs] == ["checksum"]


def test_second_original_for_the_same_file_is_already_exists(client: StorageClient) -> None:
    client.write_object([TEXT], file_id="file-1")

    with pytest.raises(ServiceError) as excinfo:
        client.write_object([b"other bytes"], file_id="file-1")

    assert excinfo.value.status == grpc.StatusCode.ALREADY_EXISTS
    assert excinfo.value.message == "file file-1 already has an original object"
    with pytest.raises(ServiceError):
        client.stat_object(sha(b"other bytes"))


def test_read_beyond_the_end_is_out_of_range(client: StorageClient) -> None:
    client.write_object([TEXT], file_id="file-1")

    with pytest.raises(ServiceError) as excinfo:
        list(client.read_object(sha(TEXT), offset=len(TEXT) + 1))

    assert excinfo.value.status == grpc.StatusCode.OUT_OF_RANGE


@pytest.mark.parametrize(
    ("digest", "status"),
    [
        ("0" * 64, grpc.StatusCode.NOT_FOUND),
        ("not-a-digest", grpc.StatusCode.INVALID_ARGUMENT),
        ("../" * 21 + "x", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_stat_and_read_of_unknown_or_malformed_digests_are_refused(
    client: StorageClient, digest: str, status: grpc.StatusCode
) -> None:
    with pytest.raises(ServiceError) as stat_error:
        client.stat_object(digest)
    with pytest.raises(ServiceError) as read_error:
        list(client.read_object(digest))

    assert (stat_error.value.status, read_error.value.status) == (status, status)


def test_server_reports_its_bound_port(server: StorageServer) -> None:
    assert server.port > 0


def test_concurrent_writes_of_the_same_bytes_store_one_blob(
    client: StorageClient, settings: Settings
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda n: client.write_object([TEXT], file_id=f"file-{n}"), range(8))
        )

    assert sorted(result.created for result in results) == [False] * 7 + [True]
    assert [p.name for p in (settings.blob_dir / "objects").rglob("*") if p.is_file()] == [
        sha(TEXT)
    ]
    assert sum(client.delete_file(f"file-{n}") for n in range(8)) == 1
