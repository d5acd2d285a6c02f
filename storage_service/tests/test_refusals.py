"""Writes that must be refused with a precise status, leaving nothing stored."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.settings import Settings
from storage_service.tests.conftest import TOKEN, count_rows
from usp.errors import ServiceError
from usp.grpc_auth import service_metadata
from usp.storage_client import StorageClient
from usp.v1 import storage_service_pb2, storage_service_pb2_grpc

DATA = b"0123456789" * 100
MIB = 1024 * 1024


def assert_nothing_stored(settings: Settings, sessions: sessionmaker[Session]) -> None:
    assert list((settings.blob_dir / "objects").rglob("*")) == []
    assert list((settings.blob_dir / "tmp").iterdir()) == []
    counts = [
        count_rows(sessions, model) for model in (db.StoredObject, db.ObjectRef, db.OutboxMessage)
    ]
    assert counts == [0, 0, 0]


def refused(client: StorageClient, chunks: list[bytes], **header: object) -> ServiceError:
    with pytest.raises(ServiceError) as excinfo:
        client.write_object(chunks, file_id="file-1", **header)  # type: ignore[arg-type]
    return excinfo.value


def test_wrong_declared_sha256_is_refused_and_nothing_is_stored(
    client: StorageClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    declared = hashlib.sha256(b"something else").hexdigest()
    error = refused(client, [DATA], declared_sha256=declared)

    assert error.status == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == (
        f"sha256 mismatch: declared {declared}, received {hashlib.sha256(DATA).hexdigest()}"
    )
    assert_nothing_stored(settings, sessions)


def test_fewer_bytes_than_declared_is_refused_and_nothing_is_stored(
    client: StorageClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    error = refused(client, [DATA], declared_size=len(DATA) + 1)

    assert error.status == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == f"size mismatch: declared {len(DATA) + 1} bytes, received {len(DATA)}"
    assert_nothing_stored(settings, sessions)


def test_more_bytes_than_declared_is_refused_and_nothing_is_stored(
    client: StorageClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    error = refused(client, [DATA, DATA], declared_size=len(DATA) + 5)

    assert error.status == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == (
        f"size mismatch: received more than the declared {len(DATA) + 5} bytes"
    )
    assert_nothing_stored(settings, sessions)


def test_unknown_pipeline_step_is_refused_and_nothing_is_stored(
    client: StorageClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    error = refused(client, [DATA], pipeline=["checksum", "video.transcode"])

    assert error.status == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message.startswith("unknown pipeline step 'video.transcode'")
    assert_nothing_stored(settings, sessions)


def test_malformed_declared_sha256_is_refused(client: StorageClient) -> None:
    error = refused(client, [DATA], declared_sha256="ABC")

    assert error.status == grpc.StatusCode.INVALID_ARGUMENT


def test_missing_file_id_is_refused(client: StorageClient) -> None:
    with pytest.raises(ServiceError) as excinfo:
        client.write_object([DATA], file_id="")

    assert excinfo.value.status == grpc.StatusCode.INVALID_ARGUMENT


def raw_write(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    requests: list[storage_service_pb2.WriteObjectRequest],
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.WriteObject(iter(requests), metadata=service_metadata(TOKEN), timeout=10)
    return excinfo.value


def header(file_id: str = "file-1") -> storage_service_pb2.WriteObjectRequest:
    return storage_service_pb2.WriteObjectRequest(
        header=storage_service_pb2.WriteHeader(file_id=file_id)
    )


def chunk(data: bytes) -> storage_service_pb2.WriteObjectRequest:
    return storage_service_pb2.WriteObjectRequest(chunk=data)


def test_chunk_larger_than_one_mib_is_refused_and_nothing_is_stored(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    error = raw_write(stub, [header(), chunk(b"a" * 10), chunk(b"b" * (MIB + 1))])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"chunk of {MIB + 1} bytes exceeds the {MIB} byte limit"
    assert_nothing_stored(settings, sessions)


def test_write_without_a_header_first_is_refused(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    error = raw_write(stub, [chunk(DATA), header()])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "the first WriteObject message must be the header"
    assert_nothing_stored(settings, sessions)


def test_empty_write_stream_is_refused(stub: storage_service_pb2_grpc.StorageServiceStub) -> None:
    error = raw_write(stub, [])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_second_header_is_refused_and_nothing_is_stored(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    error = raw_write(stub, [header(), chunk(DATA), header()])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "after the WriteObject header come only chunks, then at most a trailer"
    )
    assert_nothing_stored(settings, sessions)


def trailer(*steps: str) -> storage_service_pb2.WriteObjectRequest:
    return storage_service_pb2.WriteObjectRequest(
        trailer=storage_service_pb2.WriteTrailer(pipeline=steps)
    )


def test_message_after_the_trailer_is_refused_and_nothing_is_stored(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    error = raw_write(stub, [header(), chunk(DATA), trailer("checksum"), chunk(DATA)])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "the WriteObject trailer must be the last message"
    assert_nothing_stored(settings, sessions)


def test_pipeline_in_both_header_and_trailer_is_refused_and_nothing_is_stored(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    named = storage_service_pb2.WriteObjectRequest(
        header=storage_service_pb2.WriteHeader(file_id="file-1", pipeline=["metadata"])
    )
    error = raw_write(stub, [named, chunk(DATA), trailer("checksum")])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "name the pipeline in the header or in the trailer, not both"
    assert_nothing_stored(settings, sessions)


def test_a_stream_that_promised_a_trailer_and_ended_without_it_stores_nothing(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    promised = storage_service_pb2.WriteObjectRequest(
        header=storage_service_pb2.WriteHeader(file_id="file-1", trailer_follows=True)
    )
    error = raw_write(stub, [promised, chunk(DATA)])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "the WriteObject stream ended before its trailer"
    assert_nothing_stored(settings, sessions)


def test_unknown_step_in_the_trailer_is_refused_and_nothing_is_stored(
    stub: storage_service_pb2_grpc.StorageServiceStub,
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    error = raw_write(stub, [header(), chunk(DATA), trailer("checksum", "video.transcode")])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("unknown pipeline step 'video.transcode'")
    assert_nothing_stored(settings, sessions)
