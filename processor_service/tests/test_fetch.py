"""The verified input: fetched into the thread's spool file, emptied after each job."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from processor_service.processing import fetch_verified
from processor_service.steps import PermanentError
from processor_service.tests.conftest import TOKEN
from processor_service.tests.fake_storage import FakeStorage
from usp.storage_client import StorageClient, StoredObject, object_from_proto


@pytest.fixture
def storage(storage_server: tuple[str, FakeStorage]) -> Iterator[StorageClient]:
    with StorageClient(storage_server[0], TOKEN) as client:
        yield client


def stored(fake_storage: FakeStorage, data: bytes, *, sha256: str = "") -> StoredObject:
    return object_from_proto(fake_storage.put(data, sha256=sha256))


def test_a_thread_reuses_one_file_that_holds_each_input_only_during_its_job(
    storage: StorageClient, fake_storage: FakeStorage
) -> None:
    first, second = b"first input " * 10_000, b"second"

    with fetch_verified(storage, stored(fake_storage, first)) as stream:
        path = stream.name
        assert stream.read() == first
    assert os.path.getsize(path) == 0
    with fetch_verified(storage, stored(fake_storage, second)) as stream:
        assert stream.name == path
        assert stream.read() == second
        with open(stream.name, "rb") as by_path:  # what an isolated step's child reads
            assert by_path.read() == second
    assert os.path.getsize(path) == 0


def test_threads_get_files_of_their_own(storage: StorageClient, fake_storage: FakeStorage) -> None:
    obj = stored(fake_storage, b"shared input")
    paths: list[str] = []

    def fetch() -> None:
        with fetch_verified(storage, obj) as stream:
            paths.append(stream.name)

    fetch()
    other = threading.Thread(target=fetch)
    other.start()
    other.join()

    assert len(set(paths)) == 2


def test_a_mismatching_input_is_refused_and_not_kept(
    storage: StorageClient, fake_storage: FakeStorage
) -> None:
    with fetch_verified(storage, stored(fake_storage, b"good")) as stream:
        path = stream.name
    lying = stored(fake_storage, b"tampered bytes", sha256="0" * 64)

    with pytest.raises(PermanentError) as refused, fetch_verified(storage, lying):
        pass

    assert refused.value.code == "checksum_mismatch"
    assert os.path.getsize(path) == 0


def test_a_step_that_closes_its_input_gets_a_new_file_next_job(
    storage: StorageClient, fake_storage: FakeStorage
) -> None:
    obj = stored(fake_storage, b"input")
    with fetch_verified(storage, obj) as stream:
        closed_path = stream.name
        stream.close()

    with fetch_verified(storage, obj) as stream:
        assert stream.read() == b"input"
    assert not os.path.exists(closed_path)
