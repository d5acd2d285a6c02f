"""Remembered step results: stored once, linked to every file with the same content,
forgotten with their content."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.settings import Settings
from usp.errors import ServiceError
from usp.storage_client import (
    DerivativeUpload,
    RememberedResult,
    ResultKey,
    StorageClient,
    StoredDerivative,
    StoredObject,
)

DATA = b"the same content, uploaded twice\n"
SHA = hashlib.sha256(DATA).hexdigest()
THUMB = b"RIFF\x00\x00\x00\x00WEBPVP8 small"
PREVIEW = b"RIFF\x00\x00\x00\x00WEBPVP8 large"
KEY = ResultKey(SHA, "image.thumbnail", 2, "d" * 64)
METADATA = {"thumbnails": {"thumbnail-256": {"width": 256.0, "height": 192.0}}}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_path(settings: Settings, digest: str) -> Path:
    return settings.blob_dir / "objects" / digest[:2] / digest[2:4] / digest


def refs(sessions: sessionmaker[Session], file_id: str) -> list[tuple[str, str, str | None]]:
    with sessions() as session:
        rows = session.scalars(
            sa.select(db.ObjectRef)
            .where(db.ObjectRef.file_id == file_id)
            .order_by(db.ObjectRef.kind)
        )
        return [(row.kind, row.sha256, row.job_id) for row in rows]


def store(
    client: StorageClient,
    key: ResultKey,
    derivatives: dict[str, bytes],
    *,
    file_id: str = "file-1",
    job_id: str = "job-1",
    metadata: dict[str, object] | None = None,
) -> list[StoredDerivative]:
    """What the processor does once a step ran: its derivatives and result in one call."""
    return client.store_result(
        key,
        file_id=file_id,
        job_id=job_id,
        metadata=METADATA if metadata is None else metadata,
        derivatives=[DerivativeUpload(kind, [data]) for kind, data in derivatives.items()],
    )


def record_thumbnails(client: StorageClient, key: ResultKey = KEY) -> list[StoredDerivative]:
    return store(client, key, {"thumbnail-256": THUMB, "thumbnail-1024": PREVIEW})


@pytest.fixture
def two_files(client: StorageClient) -> None:
    client.write_object([DATA], file_id="file-1", pipeline=["checksum"])
    client.write_object([DATA], file_id="file-2", pipeline=["checksum"])


def not_found(call: Callable[[], object]) -> str:
    with pytest.raises(ServiceError) as excinfo:
        call()
    assert excinfo.value.status == grpc.StatusCode.NOT_FOUND
    return excinfo.value.message


def test_recorded_result_is_looked_up_with_what_storage_knows_of_its_derivatives(
    client: StorageClient, two_files: None
) -> None:
    thumb, preview = record_thumbnails(client)

    assert client.lookup_result(KEY) == RememberedResult(
        key=KEY,
        metadata=METADATA,
        derivatives=[
            StoredDerivative("thumbnail-256", StoredObject(sha(THUMB), len(THUMB), "image/webp")),
            StoredDerivative(
                "thumbnail-1024", StoredObject(sha(PREVIEW), len(PREVIEW), "image/webp")
            ),
        ],
    )
    assert (thumb.object.sha256, preview.object.sha256) == (sha(THUMB), sha(PREVIEW))


@pytest.mark.parametrize(
    "other",
    [
        ResultKey(SHA, "image.thumbnail", 3, "d" * 64),
        ResultKey(SHA, "image.thumbnail", 2, "e" * 64),
        ResultKey(SHA, "image.metadata", 2, "d" * 64),
        ResultKey(sha(b"other content"), "image.thumbnail", 2, "d" * 64),
    ],
)
def test_a_key_differing_in_any_part_finds_nothing(
    client: StorageClient, two_files: None, other: ResultKey
) -> None:
    record_thumbnails(client)

    assert client.lookup_result(other) is None


def test_storing_the_same_key_again_replaces_the_result(
    client: StorageClient, two_files: None
) -> None:
    record_thumbnails(client)
    store(client, KEY, {}, metadata={"again": True}, job_id="j2")

    assert client.lookup_result(KEY) == RememberedResult(KEY, {"again": True}, [])


def test_linking_gives_another_file_with_the_same_content_the_same_derivatives(
    client: StorageClient, two_files: None, sessions: sessionmaker[Session], settings: Settings
) -> None:
    record_thumbnails(client)

    client.link_result(KEY, file_id="file-2", job_id="job-2")

    assert refs(sessions, "file-2") == [
        ("original", SHA, None),
        ("thumbnail-1024", sha(PREVIEW), "job-2"),
        ("thumbnail-256", sha(THUMB), "job-2"),
    ]
    assert client.delete_file("file-1") == 0
    assert blob_path(settings, sha(THUMB)).read_bytes() == THUMB
    assert client.lookup_result(KEY) is not None


def test_linking_twice_leaves_one_set_of_derivatives(
    client: StorageClient, two_files: None, sessions: sessionmaker[Session]
) -> None:
    record_thumbnails(client)

    client.link_result(KEY, file_id="file-2", job_id="job-2")
    client.link_result(KEY, file_id="file-2", job_id="job-2")

    assert len(refs(sessions, "file-2")) == 3


def test_deleting_the_last_file_with_the_content_forgets_its_results_and_blobs(
    client: StorageClient, two_files: None, sessions: sessionmaker[Session], settings: Settings
) -> None:
    record_thumbnails(client)
    client.link_result(KEY, file_id="file-2", job_id="job-2")

    assert client.delete_file("file-1") == 0
    assert client.delete_file("file-2") == 3

    assert client.lookup_result(KEY) is None
    assert count_results(sessions) == 0
    assert not blob_path(settings, sha(THUMB)).exists()


def count_results(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(db.StepResult)) or 0)


def test_result_naming_a_derivative_removed_since_is_neither_looked_up_nor_linked(
    client: StorageClient, two_files: None, sessions: sessionmaker[Session], settings: Settings
) -> None:
    record_thumbnails(client)
    # A reprocess with other options replaces file-1's small thumbnail; nothing else
    # referenced the old one, so its blob goes.
    other_options = ResultKey(SHA, "image.thumbnail", 2, "e" * 64)
    store(client, other_options, {"thumbnail-256": b"a thumbnail made with other options"})
    assert not blob_path(settings, sha(THUMB)).exists()

    assert client.lookup_result(KEY) is None
    message = not_found(lambda: client.link_result(KEY, file_id="file-2", job_id="job-2"))
    assert message == "the thumbnail-256 object of the result is not stored"
    assert refs(sessions, "file-2") == [("original", SHA, None)]


def test_linking_an_unknown_result_is_not_found_and_links_nothing(
    client: StorageClient, two_files: None, sessions: sessionmaker[Session]
) -> None:
    message = not_found(lambda: client.link_result(KEY, file_id="file-2", job_id="job-2"))

    assert message == "no result is remembered for that key"
    assert refs(sessions, "file-2") == [("original", SHA, None)]


def test_result_of_other_content_cannot_be_linked_to_a_file(
    client: StorageClient, two_files: None, sessions: sessionmaker[Session]
) -> None:
    record_thumbnails(client)
    client.write_object([b"different bytes"], file_id="file-3", pipeline=["checksum"])

    with pytest.raises(ServiceError) as excinfo:
        client.link_result(KEY, file_id="file-3", job_id="job-3")

    assert excinfo.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refs(sessions, "file-3")[1:] == []


@pytest.mark.parametrize(
    "key",
    [
        ResultKey("not-a-digest", "image.thumbnail", 1, ""),
        ResultKey(SHA, "", 1, ""),
        ResultKey(SHA, "image.thumbnail", -1, ""),
        ResultKey(SHA, "image.thumbnail", 1, "x" * 65),
    ],
)
def test_malformed_keys_are_invalid(client: StorageClient, key: ResultKey) -> None:
    with pytest.raises(ServiceError) as excinfo:
        client.lookup_result(key)

    assert excinfo.value.status == grpc.StatusCode.INVALID_ARGUMENT


def test_concurrent_link_and_delete_of_the_computing_file_never_leave_a_missing_blob(
    client: StorageClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    race_link_against_delete(client, sessions, settings, rounds=12)


def race_link_against_delete(
    client: StorageClient, sessions: sessionmaker[Session], settings: Settings, *, rounds: int
) -> None:
    """Round after round, link a result to a second file while the file it was computed
    for is deleted: either the link wins and the blob stays, or it is refused and the
    blob is gone; never a reference to a missing blob."""
    for round_ in range(rounds):
        first, second = f"a-{round_}", f"b-{round_}"
        client.write_object([DATA], file_id=first, pipeline=["checksum"])
        client.write_object([DATA], file_id=second, pipeline=["checksum"])
        [thumb] = store(client, KEY, {"thumbnail-256": THUMB + bytes([round_])}, file_id=first)

        def link(second: str = second) -> bool:
            try:
                client.link_result(KEY, file_id=second, job_id="j2")
            except ServiceError:
                return False
            return True

        with ThreadPoolExecutor(max_workers=2) as pool:
            if round_ % 2:  # each goes first in turn
                deleted = pool.submit(client.delete_file, first)
                linked = pool.submit(link)
            else:
                linked = pool.submit(link)
                deleted = pool.submit(client.delete_file, first)
            deleted.result()

        kinds = [kind for kind, _, _ in refs(sessions, second)]
        stored = blob_path(settings, thumb.object.sha256).exists()
        assert (kinds, stored) in (
            (["original", "thumbnail-256"], True),
            (["original"], False),
        )
        assert linked.result() is stored
        client.delete_file(second)
