"""Remembered step results, so the same work on the same content is done once.

A result is named by its key (input SHA-256, step, version, options digest). Recording
one links its derivatives to the file it was computed for; linking one gives another
file holding the same content those derivatives without running the step again.

Both lock the file's original reference first, as deleting a file does, then the
object rows the result names in digest order, as removing blobs does: a result is never
linked to a file being deleted, nor made to name a blob being removed. A result lives
as long as its input: removing the input's blob removes its results in the same
transaction (refs.release_objects). A result naming a derivative blob removed since
(its file was reprocessed with other options, then deleted) is served to nobody: lookups
and links treat it as unknown, and recomputing overwrites it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from storage_service.blobs import BlobStore, is_sha256
from storage_service.db import ORIGINAL, StepResult, StoredObject, utcnow
from storage_service.errors import InvalidObject, ObjectNotFound
from storage_service.records import Derivative, ObjectInfo, ResultKey, StepResultInfo
from storage_service.refs import lock_objects, lock_original, upsert_ref

logger = logging.getLogger(__name__)

MAX_NAME = 64
_KEY_COLUMNS = ["input_sha256", "step", "version", "options_digest"]


def validate_key(key: ResultKey) -> None:
    if not is_sha256(key.input_sha256):
        raise InvalidObject("input_sha256 must be 64 lowercase hex characters")
    if not key.step or len(key.step) > MAX_NAME:
        raise InvalidObject(f"a result's step is 1 to {MAX_NAME} characters")
    if key.version < 0:
        raise InvalidObject("a result's version must not be negative")
    if len(key.options_digest) > MAX_NAME:
        raise InvalidObject(f"an options digest is at most {MAX_NAME} characters")


def _validate_derivatives(derivatives: Sequence[Derivative]) -> None:
    kinds = [item.kind for item in derivatives]
    if len(set(kinds)) != len(kinds):
        raise InvalidObject("a result names each derivative kind once")
    for item in derivatives:
        if not item.kind or len(item.kind) > MAX_NAME or item.kind == ORIGINAL:
            raise InvalidObject(f"{item.kind[:80]!r} is not a derivative kind")
        if not is_sha256(item.object.sha256):
            raise InvalidObject("a derivative's sha256 must be 64 lowercase hex characters")


class StepResults:
    def __init__(self, *, sessions: sessionmaker[Session], blobs: BlobStore) -> None:
        self._sessions = sessions
        self._blobs = blobs

    def lookup(self, key: ResultKey) -> StepResultInfo:
        """The remembered result; ObjectNotFound when there is none whose blobs are all
        still stored."""
        validate_key(key)
        with self._sessions() as session:
            row = _find(session, key)
            result = None if row is None else _info(key, row)
            if result is None or not _all_stored(session, result.derivatives):
                raise ObjectNotFound("no result is remembered for that key")
            return result

    def record(self, *, result: StepResultInfo, file_id: str, job_id: str) -> None:
        """Remember `result` (replacing one with the same key) and link its derivatives,
        already stored, to the file it was computed for.

        Sizes and types are taken from the stored objects, not from the caller.
        """
        validate_key(result.key)
        _validate_derivatives(result.derivatives)
        with self._sessions.begin() as session:
            _lock_file_of(session, file_id, result.key)
            stored = _lock_derivatives(session, result.derivatives)
            _upsert(session, result, stored)
            self._link(session, file_id, job_id, stored)
        logger.info("step result recorded", extra={"fields": _fields(result.key, file_id, job_id)})

    def link(self, *, key: ResultKey, file_id: str, job_id: str) -> None:
        """Give the file the derivatives of the remembered result; ObjectNotFound when
        there is none or one of its blobs is no longer stored."""
        validate_key(key)
        with self._sessions.begin() as session:
            _lock_file_of(session, file_id, key)
            row = _find(session, key)
            if row is None:
                raise ObjectNotFound("no result is remembered for that key")
            stored = _lock_derivatives(session, _info(key, row).derivatives)
            self._link(session, file_id, job_id, stored)
        logger.info("step result linked", extra={"fields": _fields(key, file_id, job_id)})

    def _link(
        self, session: Session, file_id: str, job_id: str, derivatives: Iterable[Derivative]
    ) -> None:
        for item in derivatives:
            upsert_ref(
                session,
                self._blobs,
                file_id=file_id,
                kind=item.kind,
                sha256=item.object.sha256,
                job_id=job_id or None,
            )


def _find(session: Session, key: ResultKey) -> StepResult | None:
    return session.scalar(
        sa.select(StepResult).where(
            StepResult.input_sha256 == key.input_sha256,
            StepResult.step == key.step,
            StepResult.version == key.version,
            StepResult.options_digest == key.options_digest,
        )
    )


def _info(key: ResultKey, row: StepResult) -> StepResultInfo:
    derivatives = [
        Derivative(
            item["kind"], ObjectInfo(item["sha256"], int(item["size"]), item["content_type"])
        )
        for item in row.derivatives
    ]
    return StepResultInfo(key=key, metadata=dict(row.result_metadata), derivatives=derivatives)


def _all_stored(session: Session, derivatives: Sequence[Derivative]) -> bool:
    digests = {item.object.sha256 for item in derivatives}
    if not digests:
        return True
    query = sa.select(sa.func.count()).where(StoredObject.sha256.in_(digests))
    return session.scalar(query) == len(digests)


def _lock_file_of(session: Session, file_id: str, key: ResultKey) -> None:
    """Lock the file's original; it must be the result's input."""
    if not file_id:
        raise InvalidObject("file_id is required")
    original = lock_original(session, file_id)
    if original is None:
        raise ObjectNotFound(f"file {file_id} has no original object")
    if original.sha256 != key.input_sha256:
        raise InvalidObject(f"the original of file {file_id} is not the result's input")


def _lock_derivatives(session: Session, derivatives: Sequence[Derivative]) -> list[Derivative]:
    """The derivatives as stored, their object rows locked; ObjectNotFound when one is
    not stored."""
    rows = lock_objects(session, (item.object.sha256 for item in derivatives))
    missing = [item.kind for item in derivatives if item.object.sha256 not in rows]
    if missing:
        raise ObjectNotFound(f"the {missing[0]} object of the result is not stored")
    return [_as_stored(item.kind, rows[item.object.sha256]) for item in derivatives]


def _as_stored(kind: str, row: StoredObject) -> Derivative:
    return Derivative(kind, ObjectInfo(row.sha256, row.size, row.content_type))


def _upsert(session: Session, result: StepResultInfo, derivatives: Sequence[Derivative]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values: dict[str, Any] = {
        "metadata": result.metadata,
        "derivatives": [_derivative_json(item) for item in derivatives],
        "created_at": utcnow(),
    }
    key = {column: getattr(result.key, column) for column in _KEY_COLUMNS}
    statement = insert(cast(sa.Table, StepResult.__table__)).values(**key, **values)
    session.execute(statement.on_conflict_do_update(index_elements=_KEY_COLUMNS, set_=values))


def _derivative_json(item: Derivative) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "sha256": item.object.sha256,
        "size": item.object.size,
        "content_type": item.object.content_type,
    }


def _fields(key: ResultKey, file_id: str, job_id: str) -> dict[str, object]:
    return {
        "file_id": file_id,
        "job_id": job_id,
        "sha256": key.input_sha256,
        "step": key.step,
        "version": key.version,
    }
