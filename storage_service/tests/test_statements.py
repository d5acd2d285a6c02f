"""The statements of a job's storage calls, on SQLite and on PostgreSQL: built once and
compiled once, binding values as the ORM does."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import CACHE_HIT
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.blobs import BlobStore
from storage_service.errors import ObjectNotFound
from storage_service.ingest import Declared, IncomingDerivative
from storage_service.objects import READ_CHUNK, Storage
from storage_service.records import ResultKey
from storage_service.results import StepResults
from usp.storage_client import StorageClient

RESULTS = cast(sa.Table, db.StepResult.__table__)
KEY_COLUMNS = ["input_sha256", "step", "version", "options_digest"]
VALUE_COLUMNS = ["metadata", "derivatives", "created_at"]
UPSERT = db.insert_on_conflict(
    RESULTS, columns=KEY_COLUMNS + VALUE_COLUMNS, conflict=KEY_COLUMNS, update=VALUE_COLUMNS
)
INSERT_OR_KEEP = db.insert_on_conflict(
    RESULTS, columns=KEY_COLUMNS + VALUE_COLUMNS, conflict=KEY_COLUMNS
)
KEY = {"input_sha256": "a" * 64, "step": "image.thumbnail", "version": 2, "options_digest": "d"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'storage.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    db.migrate(url)
    database = db.create_engine(db.normalize_database_url(url))
    yield database
    database.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


def values(metadata: dict[str, Any], moment: datetime) -> dict[str, Any]:
    derivatives = [{"kind": "thumbnail-256", "sha256": "b" * 64, "size": 3, "content_type": "x"}]
    return {**KEY, "metadata": metadata, "derivatives": derivatives, "created_at": moment}


def stored(sessions: sessionmaker[Session]) -> db.StepResult:
    with sessions() as session:
        return session.scalars(sa.select(db.StepResult)).one()


def test_insert_on_conflict_binds_json_and_datetimes_as_the_orm_reads_them(
    sessions: sessionmaker[Session],
) -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    with sessions.begin() as session:
        session.execute(UPSERT, values({"width": 256, "tags": ["a", "b"]}, moment))
    row = stored(sessions)
    assert (row.result_metadata, row.derivatives[0]["sha256"]) == (
        {"width": 256, "tags": ["a", "b"]},
        "b" * 64,
    )
    assert db.as_utc(row.created_at) == moment


def test_insert_on_conflict_updates_the_named_columns_or_keeps_the_row(
    sessions: sessionmaker[Session],
) -> None:
    first, later = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    with sessions.begin() as session:
        session.execute(UPSERT, values({"run": 1}, first))
        kept = session.execute(INSERT_OR_KEEP, values({"run": 2}, later))
        assert kept.rowcount == 0  # type: ignore[attr-defined]
    assert stored(sessions).result_metadata == {"run": 1}
    with sessions.begin() as session:
        session.execute(UPSERT, values({"run": 3}, later))
    row = stored(sessions)
    assert (row.result_metadata, db.as_utc(row.created_at)) == ({"run": 3}, later)


def test_insert_on_conflict_refuses_a_column_the_table_does_not_have() -> None:
    with pytest.raises(KeyError):
        db.insert_on_conflict(RESULTS, columns=["input_sha256", "nope"], conflict=["nope"])


def _job(storage: Storage, results: StepResults, number: int) -> None:
    """A thumbnail job's storage calls: look the result up (a miss), read the input,
    store two derivatives and the result."""
    original = f"original {number}\n".encode()
    file_id = f"file-{number}"
    storage.write_original(file_id=file_id, chunks=[original], pipeline=["checksum"])
    key = ResultKey(hashlib.sha256(original).hexdigest(), "image.thumbnail", 2, "d" * 64)
    with pytest.raises(ObjectNotFound):
        results.lookup(key)
    assert b"".join(storage.read(key.input_sha256)) == original
    derivatives = [
        IncomingDerivative(kind, [f"{kind} of {number}".encode()], Declared())
        for kind in ("thumbnail-256", "thumbnail-1024")
    ]
    results.store(
        key=key, metadata={"n": number}, file_id=file_id, job_id="j", derivatives=derivatives
    )


def test_a_jobs_second_run_compiles_no_statement_again(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    storage = Storage(sessions=sessions, blobs=blobs, namespace="test")
    results = StepResults(sessions=sessions, blobs=blobs)
    _job(storage, results, 1)
    compiled: list[tuple[str, object]] = []

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any
    ) -> None:
        if context.compiled is not None:  # not BEGIN, which is driver SQL
            compiled.append((statement, context.cache_hit))

    _job(storage, results, 2)
    assert compiled  # the listener saw the job's statements
    assert [statement for statement, hit in compiled if hit != CACHE_HIT] == []


def test_an_object_larger_than_a_read_chunk_is_read_in_chunks_of_at_most_that_size(
    client: StorageClient,
) -> None:
    data = bytes(range(256)) * ((READ_CHUNK * 2 + 1000) // 256)
    client.write_object([data], file_id="file-1", pipeline=["checksum"])
    chunks = list(client.read_object(hashlib.sha256(data).hexdigest()))
    assert (b"".join(chunks), max(len(chunk) for chunk in chunks)) == (data, READ_CHUNK)
