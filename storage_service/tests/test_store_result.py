"""StoreResult: a step's derivatives and its result committed together or not at all,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.settings import Settings
from storage_service.tests.conftest import TOKEN, make_settings
from tests.waiting import wait_for
from usp.errors import ServiceError
from usp.grpc_auth import service_metadata
from usp.storage_client import (
    DerivativeUpload,
    RememberedResult,
    ResultKey,
    StorageClient,
    StoredDerivative,
    StoredObject,
)
from usp.v1 import storage_service_pb2, storage_service_pb2_grpc

DATA = b"an image, as far as these tests care\n"
SHA = hashlib.sha256(DATA).hexdigest()
THUMB = b"RIFF\x00\x00\x00\x00WEBPVP8 small"
PREVIEW = b"RIFF\x00\x00\x00\x00WEBPVP8 large"
KEY = ResultKey(SHA, "image.thumbnail", 2, "d" * 64)
OTHER_OPTIONS = ResultKey(SHA, "image.thumbnail", 2, "e" * 64)
METADATA = {"thumbnails": {"thumbnail-256": {"width": 256.0, "height": 192.0}}}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path, namespace: str) -> Settings:
    """The storage server's settings, on each database it runs on."""
    if request.param == "sqlite":
        return make_settings(tmp_path / "data", namespace)
    database = request.getfixturevalue("postgres_database")
    return make_settings(tmp_path / "data", namespace, USP_STORAGE_DATABASE_URL=database)


@pytest.fixture
def original(client: StorageClient) -> str:
    client.write_object([DATA], file_id="file-1", pipeline=["checksum"])
    return SHA


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def webp(data: bytes) -> StoredObject:
    return StoredObject(sha(data), len(data), "image/webp")


def upload(kind: str, data: bytes, **declared: int | str) -> DerivativeUpload:
    return DerivativeUpload(kind, [data], **declared)  # type: ignore[arg-type]


def store(
    client: StorageClient,
    derivatives: Iterable[DerivativeUpload],
    *,
    key: ResultKey = KEY,
    file_id: str = "file-1",
    job_id: str = "job-1",
) -> list[StoredDerivative]:
    return client.store_result(
        key, file_id=file_id, job_id=job_id, metadata=METADATA, derivatives=derivatives
    )


def refs(sessions: sessionmaker[Session], file_id: str) -> list[tuple[str, str, str | None]]:
    with sessions() as session:
        rows = session.scalars(
            sa.select(db.ObjectRef)
            .where(db.ObjectRef.file_id == file_id)
            .order_by(db.ObjectRef.kind)
        )
        return [(row.kind, row.sha256, row.job_id) for row in rows]


def object_rows(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(sa.select(db.StoredObject.sha256)))


def result_rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(db.StepResult)) or 0)


def blobs(settings: Settings) -> set[str]:
    return {path.name for path in (settings.blob_dir / "objects").rglob("*") if path.is_file()}


def temporary_files(settings: Settings) -> list[Path]:
    return list((settings.blob_dir / "tmp").iterdir())


def assert_nothing_stored(sessions: sessionmaker[Session], settings: Settings) -> None:
    """file-1 has its original and nothing else: no result, no derivative object or
    blob, no temporary file left behind."""
    assert refs(sessions, "file-1") == [("original", SHA, None)]
    assert result_rows(sessions) == 0
    assert object_rows(sessions) == {SHA}
    assert blobs(settings) == {SHA}
    assert temporary_files(settings) == []


def test_derivatives_and_result_are_stored_in_one_call(
    client: StorageClient, original: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    stored = store(client, [upload("thumbnail-256", THUMB), upload("thumbnail-1024", PREVIEW)])

    assert stored == [
        StoredDerivative("thumbnail-256", webp(THUMB)),
        StoredDerivative("thumbnail-1024", webp(PREVIEW)),
    ]
    assert refs(sessions, "file-1") == [
        ("original", SHA, None),
        ("thumbnail-1024", sha(PREVIEW), "job-1"),
        ("thumbnail-256", sha(THUMB), "job-1"),
    ]
    assert client.lookup_result(KEY) == RememberedResult(KEY, METADATA, stored)
    assert b"".join(client.read_object(sha(PREVIEW))) == PREVIEW
    assert temporary_files(settings) == []


def test_a_result_without_derivatives_remembers_its_metadata(
    client: StorageClient, original: str, sessions: sessionmaker[Session]
) -> None:
    assert store(client, []) == []

    assert client.lookup_result(KEY) == RememberedResult(KEY, METADATA, [])
    assert refs(sessions, "file-1") == [("original", SHA, None)]


def test_a_derivative_larger_than_a_chunk_streams_in_and_reads_back(
    client: StorageClient, original: str
) -> None:
    data = bytes(range(256)) * 10_000  # about 2.4 MiB: three chunks
    pieces = (data[start : start + 300_000] for start in range(0, len(data), 300_000))

    [stored] = store(client, [DerivativeUpload("preview", pieces, size=len(data))])

    assert stored.object == StoredObject(sha(data), len(data), "application/octet-stream")
    assert b"".join(client.read_object(sha(data))) == data


def test_identical_bytes_are_one_object_whoever_stores_them(
    client: StorageClient, original: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    other = b"other content with the same thumbnail"
    client.write_object([other], file_id="file-2", pipeline=["checksum"])
    store(client, [upload("thumbnail-256", THUMB), upload("thumbnail-1024", THUMB)])
    other_key = ResultKey(sha(other), "image.thumbnail", 2, "d" * 64)
    store(client, [upload("thumbnail-256", THUMB)], key=other_key, file_id="file-2")

    assert object_rows(sessions) == {SHA, sha(other), sha(THUMB)}
    assert [sha256 for kind, sha256, _ in refs(sessions, "file-1") if kind != "original"] == [
        sha(THUMB),
        sha(THUMB),
    ]
    assert client.delete_file("file-1") == 1  # its original; file-2 still holds the thumbnail
    assert blobs(settings) == {sha(other), sha(THUMB)}


def test_a_derivative_replaces_the_files_previous_one_of_its_kind(
    client: StorageClient, original: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    older = b"RIFF\x00\x00\x00\x00WEBPVP8 made with other options"
    store(client, [upload("thumbnail-256", older)], key=OTHER_OPTIONS, job_id="job-1")

    store(client, [upload("thumbnail-256", THUMB)], job_id="job-2")

    assert refs(sessions, "file-1") == [
        ("original", SHA, None),
        ("thumbnail-256", sha(THUMB), "job-2"),
    ]
    assert blobs(settings) == {SHA, sha(THUMB)}
    assert client.lookup_result(OTHER_OPTIONS) is None  # it names a blob no longer stored


def test_an_object_moving_to_another_kind_is_kept(
    client: StorageClient, original: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    store(client, [upload("thumbnail-256", THUMB)], key=OTHER_OPTIONS)

    store(client, [upload("thumbnail-256", PREVIEW), upload("thumbnail-1024", THUMB)])

    assert refs(sessions, "file-1") == [
        ("original", SHA, None),
        ("thumbnail-1024", sha(THUMB), "job-1"),
        ("thumbnail-256", sha(PREVIEW), "job-1"),
    ]
    assert blobs(settings) == object_rows(sessions) == {SHA, sha(THUMB), sha(PREVIEW)}


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (upload("thumbnail-1024", PREVIEW, size=len(PREVIEW) + 1), "size mismatch"),
        (upload("thumbnail-1024", PREVIEW, size=len(PREVIEW) - 1), "size mismatch"),
        (upload("thumbnail-1024", PREVIEW, sha256="0" * 64), "sha256 mismatch"),
        (upload("thumbnail-1024", PREVIEW, sha256="not-hex"), "declared sha256 must be"),
        (upload("thumbnail-256", PREVIEW), "a result names each derivative kind once"),
        (upload("original", PREVIEW), "'original' is not a derivative kind"),
        (upload("", PREVIEW), "'' is not a derivative kind"),
        (upload("k" * 65, PREVIEW), "is not a derivative kind"),
    ],
)
def test_a_bad_derivative_stores_nothing_of_the_result(
    client: StorageClient,
    original: str,
    sessions: sessionmaker[Session],
    settings: Settings,
    second: DerivativeUpload,
    message: str,
) -> None:
    with pytest.raises(ServiceError) as excinfo:
        store(client, [upload("thumbnail-256", THUMB), second])

    assert excinfo.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert message in excinfo.value.message
    assert_nothing_stored(sessions, settings)


def test_a_broken_stream_stores_nothing(
    client: StorageClient, original: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    def breaking() -> Iterator[bytes]:
        yield PREVIEW[:10]
        # Break only once storage is receiving: the first derivative is in a temporary file.
        wait_for(lambda: temporary_files(settings), what="storage receiving the derivatives")
        raise RuntimeError("the processor died mid-stream")

    with pytest.raises(ServiceError):
        store(client, [upload("thumbnail-256", THUMB), DerivativeUpload("preview", breaking())])

    # Storage drops what it received once it sees the stream end; had it taken the broken
    # stream for a complete one, the bytes would have been renamed into objects/ instead.
    wait_for(lambda: temporary_files(settings) == [], what="the temporary files removed")
    assert_nothing_stored(sessions, settings)


def test_a_file_without_an_original_gets_nothing(
    client: StorageClient, original: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    with pytest.raises(ServiceError) as excinfo:
        store(client, [upload("thumbnail-256", THUMB)], file_id="never-uploaded")

    assert excinfo.value.status == grpc.StatusCode.NOT_FOUND
    assert excinfo.value.message == "file never-uploaded has no original object"
    assert refs(sessions, "never-uploaded") == []
    assert_nothing_stored(sessions, settings)


def test_a_file_deleted_while_its_result_arrives_gets_nothing(
    client: StorageClient, original: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    def deleting_meanwhile() -> Iterator[bytes]:
        yield PREVIEW
        assert client.delete_file("file-1") == 1

    with pytest.raises(ServiceError) as excinfo:
        store(
            client,
            [upload("thumbnail-256", THUMB), DerivativeUpload("preview", deleting_meanwhile())],
        )

    assert excinfo.value.status == grpc.StatusCode.NOT_FOUND
    assert (refs(sessions, "file-1"), result_rows(sessions)) == ([], 0)
    assert (object_rows(sessions), blobs(settings), temporary_files(settings)) == (set(), set(), [])


def test_a_result_of_other_content_is_refused(
    client: StorageClient, original: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    other = ResultKey(sha(b"other content"), "image.thumbnail", 2, "d" * 64)

    with pytest.raises(ServiceError) as excinfo:
        store(client, [upload("thumbnail-256", THUMB)], key=other)

    assert excinfo.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert_nothing_stored(sessions, settings)


def call(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    requests: list[storage_service_pb2.StoreResultRequest],
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.StoreResult(iter(requests), metadata=service_metadata(TOKEN), timeout=10)
    return excinfo.value


def header() -> storage_service_pb2.StoreResultRequest:
    key = storage_service_pb2.ResultKey(
        input_sha256=KEY.input_sha256,
        step=KEY.step,
        version=KEY.version,
        options_digest=KEY.options_digest,
    )
    return storage_service_pb2.StoreResultRequest(
        header=storage_service_pb2.StoreResultHeader(key=key, file_id="file-1", job_id="j")
    )


def start(kind: str) -> storage_service_pb2.StoreResultRequest:
    return storage_service_pb2.StoreResultRequest(
        derivative=storage_service_pb2.DerivativeStart(kind=kind)
    )


def chunk(data: bytes) -> storage_service_pb2.StoreResultRequest:
    return storage_service_pb2.StoreResultRequest(chunk=data)


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "the first StoreResult message must be the header"),
        (
            [start("thumbnail-256"), chunk(THUMB)],
            "the first StoreResult message must be the header",
        ),
        ([header(), chunk(THUMB)], "after the StoreResult header come only derivative starts"),
        ([header(), start("a"), chunk(THUMB), header()], "after the StoreResult header come only"),
    ],
    ids=["empty", "no header", "chunk without a start", "second header"],
)
def test_a_stream_out_of_order_is_invalid_and_stores_nothing(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    original: str,
    sessions: sessionmaker[Session],
    settings: Settings,
    requests: list[storage_service_pb2.StoreResultRequest],
    message: str,
) -> None:
    error = call(stub, requests)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (error.details() or "")
    assert_nothing_stored(sessions, settings)


def test_storing_a_result_races_deleting_its_file_safely(
    client: StorageClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    """Round after round, a result arrives while its file is deleted: whichever commits
    first, the file ends with nothing, and no object row outlives its blob or the reverse."""
    for round_ in range(8):
        data = DATA + bytes([round_])
        file_id = f"file-{round_}"
        client.write_object([data], file_id=file_id, pipeline=["checksum"])
        key = ResultKey(sha(data), "image.thumbnail", 2, "d" * 64)
        thumbnail = upload("thumbnail-256", THUMB + bytes([round_]))

        def store_it(
            key: ResultKey = key, file_id: str = file_id, thumbnail: DerivativeUpload = thumbnail
        ) -> None:
            try:
                store(client, [thumbnail], key=key, file_id=file_id)
            except ServiceError as error:  # the delete came first
                assert error.status == grpc.StatusCode.NOT_FOUND

        with ThreadPoolExecutor(max_workers=2) as pool:
            if round_ % 2:  # each goes first in turn
                deleted = pool.submit(client.delete_file, file_id)
                stored = pool.submit(store_it)
            else:
                stored = pool.submit(store_it)
                deleted = pool.submit(client.delete_file, file_id)
            stored.result()
            deleted.result()

        assert refs(sessions, file_id) == []
        assert object_rows(sessions) == blobs(settings) == set()
        assert result_rows(sessions) == 0
