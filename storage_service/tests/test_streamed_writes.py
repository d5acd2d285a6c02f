"""An original written while its bytes still arrive (StorageClient.open_write): chunks
sent from the caller's thread, the steps named after them in the stream's trailer."""

from __future__ import annotations

import hashlib
import threading
import time

import grpc
import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage_service.settings import Settings
from storage_service.tests.test_refusals import assert_nothing_stored
from tests.waiting import wait_for
from usp.errors import ServiceError
from usp.storage_client import CHUNK_SIZE, StorageClient

DATA = b"0123456789" * 100


def test_bytes_sent_then_finished_are_committed_with_the_steps_named_last(
    client: StorageClient,
) -> None:
    write = client.open_write(file_id="file-1", name="a.txt")
    for _ in range(3):
        write.send(DATA)

    result = write.finish(["checksum"])

    assert (result.object.sha256, result.object.size) == (
        hashlib.sha256(DATA * 3).hexdigest(),
        3 * len(DATA),
    )
    assert [job.step for job in result.jobs] == ["checksum"]
    assert b"".join(client.read_object(result.object.sha256)) == DATA * 3


def test_a_chunk_larger_than_the_contract_allows_is_sent_in_pieces(
    client: StorageClient,
) -> None:
    data = b"x" * (2 * CHUNK_SIZE + 5)
    write = client.open_write(file_id="file-1")
    write.send(data)

    assert write.finish().object.sha256 == hashlib.sha256(data).hexdigest()


def test_a_cancelled_write_stores_nothing(
    client: StorageClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    temporary = settings.blob_dir / "tmp"
    write = client.open_write(file_id="file-1")
    write.send(DATA)
    # Cancelled only once storage is receiving, so the cancel has something to undo.
    wait_for(lambda: list(temporary.iterdir()), what="the write's temporary file")

    write.cancel()

    wait_for(lambda: not list(temporary.iterdir()), what="the temporary file removed")
    assert_nothing_stored(settings, sessions)


def test_a_write_storage_refuses_early_never_blocks_the_sender_and_says_why(
    client: StorageClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    client.write_object([b"warm"], file_id="file-0")  # the channel's own threads start
    threads = threading.active_count()
    write = client.open_write(file_id="")  # refused before any chunk is read
    deadline = time.monotonic() + 10
    while not write.ended and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(20):  # far more than the queue holds: dropped, the call is over
        write.send(DATA)

    with pytest.raises(ServiceError) as excinfo:
        write.finish()

    assert excinfo.value.status == grpc.StatusCode.INVALID_ARGUMENT
    deadline = time.monotonic() + 10  # the thread that fed the call is gone too
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= threads


def test_a_type_outside_the_policy_is_refused_at_the_end_and_nothing_is_stored(
    client: StorageClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    write = client.open_write(file_id="file-1", allowed_types=["image/*"])
    write.send(DATA)

    with pytest.raises(ServiceError) as excinfo:
        write.finish()

    assert excinfo.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert "text/plain" in excinfo.value.message
    assert_nothing_stored(settings, sessions)
