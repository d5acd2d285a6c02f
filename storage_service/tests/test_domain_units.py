"""Units of the domain: settings, sniffing, pipelines, the blob store, ingest limits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storage_service import pipelines
from storage_service.blobs import BlobStore, InvalidDigest
from storage_service.errors import InvalidObject
from storage_service.ingest import Declared, receive
from storage_service.settings import Settings
from storage_service.sniff import sniff


def test_settings_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"USP_DATA_DIR": str(tmp_path)})

    assert settings == Settings(
        grpc_host="127.0.0.1",
        grpc_port=50052,
        http_port=8001,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/storage.sqlite3",
        blob_dir=tmp_path / "blobs",
        service_token="usp-embedded-service-token",
        broker_url="",
        namespace="usp",
        outbox_poll_interval=0.5,
        grace_period=10.0,
    )


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_urls_use_the_psycopg_driver(tmp_path: Path, scheme: str) -> None:
    settings = Settings.from_env(
        {"USP_DATA_DIR": str(tmp_path), "USP_STORAGE_DATABASE_URL": f"{scheme}://u@h:5432/db"}
    )

    assert settings.database_url == "postgresql+psycopg://u@h:5432/db"


@pytest.mark.parametrize(
    ("head", "complete", "expected"),
    [
        (b"", True, "application/x-empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, False, "image/png"),
        (b"%PDF-1.7\n", False, "application/pdf"),
        ("héllo wörld\n".encode(), True, "text/plain"),
        ("é".encode()[:1], False, "text/plain"),  # a character cut at the head's end
        ("naïve café\n".encode("latin-1"), True, "text/plain"),
        ("日本語のテキスト\n".encode("shift_jis"), True, "text/plain"),
        ("wide text\n".encode("utf-16"), True, "text/plain"),
        ("wider text\n".encode("utf-32"), True, "text/plain"),
        (b"\x00\x01\x02binary", True, "application/octet-stream"),
        (b"\xff\xfe\xfd", True, "application/octet-stream"),
    ],
)
def test_sniff_names_the_type_the_bytes_have(head: bytes, complete: bool, expected: str) -> None:
    assert sniff(head, complete=complete) == expected


def test_default_pipeline_depends_on_the_sniffed_type() -> None:
    assert pipelines.resolve([], "image/webp") == ["image.metadata", "image.thumbnail", "checksum"]
    assert pipelines.resolve([], "text/plain") == ["text.stats", "checksum"]
    assert pipelines.resolve([], "application/octet-stream") == ["checksum"]
    assert pipelines.resolve(["checksum", "checksum"], "text/plain") == ["checksum"]


def test_unknown_step_is_invalid() -> None:
    with pytest.raises(InvalidObject, match="unknown pipeline step 'ocr'"):
        pipelines.resolve(["ocr"], "image/png")


def test_blob_store_refuses_names_that_are_not_digests(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    for name in ("../../etc/passwd", "A" * 64, "a" * 63, "a" * 65):
        with pytest.raises(InvalidDigest):
            store.path(name)


def test_blob_is_invisible_until_committed_and_committed_once(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = hashlib.sha256(b"abcdef").hexdigest()
    first, second = store.writer(), store.writer()
    for writer in (first, second):
        writer.write(b"abc")
        writer.write(b"def")

    assert not store.exists(digest)
    assert (first.commit(), second.commit()) == (True, False)
    with store.open(digest) as stream:
        assert stream.read() == b"abcdef"
    assert list(store.tmp_dir.iterdir()) == []


def test_aborted_blob_leaves_no_trace(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = store.writer()
    writer.write(b"partial")
    writer.abort()

    assert list(store.tmp_dir.iterdir()) == []
    assert list(store.objects_dir.iterdir()) == []


def test_overrun_stops_reading_at_the_first_chunk_past_the_declared_size(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    chunks = iter([b"aaaa", b"bbbb", b"cccc"])

    with pytest.raises(InvalidObject, match="received more than the declared 5 bytes"):
        receive(chunks, blobs=store, declared=Declared(size=5))

    assert list(chunks) == [b"cccc"]
    assert list(store.tmp_dir.iterdir()) == []


def test_oversized_chunk_stops_reading(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    chunks = iter([b"a" * (1024 * 1024 + 1), b"never read"])

    with pytest.raises(InvalidObject, match="exceeds the 1048576 byte limit"):
        receive(chunks, blobs=store, declared=Declared())

    assert list(chunks) == [b"never read"]


def test_interrupted_stream_removes_the_temporary_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    def broken() -> object:
        yield b"some bytes"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        receive(broken(), blobs=store, declared=Declared())  # type: ignore[arg-type]

    assert list(store.tmp_dir.iterdir()) == []
