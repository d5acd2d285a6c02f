"""Remembered step results, so the same work on the same content is done once.

A result is named by its key (input SHA-256, step, version, options digest). Storing
one receives and verifies its derivatives' bytes, then commits in one transaction their
objects (identical bytes already stored are reused), the result row and the file's
references to the derivatives, each replacing the file's previous one of its kind.
Linking one gives another file holding the same content those derivatives without
running the step again.

Both lock the file's original reference first, as deleting a file does, then the
object rows the result names in digest order, as removing blobs does: a result is never
linked to a file being deleted, nor made to name a blob being removed. Storing renames
each blob into place once its row is locked, as objects.py does. A result lives
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
from sqlalchemy.orm import Session, sessionmaker

from storage_service.blobs import BlobStore, is_sha256
from storage_service.db import ORIGINAL, StepResult, StoredObject, insert_on_conflict, utcnow
from storage_service.errors import InvalidObject, ObjectNotFound
from storage_service.ingest import IncomingDerivative, Received, receive
from storage_service.records import Derivative, ObjectInfo, ResultKey, StepResultInfo
from storage_service.refs import claim_object, lock_objects, lock_original, upsert_refs

logger = logging.getLogger(__name__)

MAX_NAME = 64
_KEY_COLUMNS = ["input_sha256", "step", "version", "options_digest"]
_VALUE_COLUMNS = ["metadata", "derivatives", "created_at"]
# Built once (see refs.py): a lookup, usually a miss, is one cached Core query.
_RESULTS = cast(sa.Table, StepResult.__table__)
_FIND = sa.select(_RESULTS.c.metadata.label("result_metadata"), _RESULTS.c.derivatives).where(
    *(_RESULTS.c[column] == sa.bindparam(column) for column in _KEY_COLUMNS)
)
_UPSERT = insert_on_conflict(
    _RESULTS,
    columns=_KEY_COLUMNS + _VALUE_COLUMNS,
    conflict=_KEY_COLUMNS,
    update=_VALUE_COLUMNS,
)


def validate_key(key: ResultKey) -> None:
    if not is_sha256(key.input_sha256):
        raise InvalidObject("input_sha256 must be 64 lowercase hex characters")
    if not key.step or len(key.step) > MAX_NAME:
        raise InvalidObject(f"a result's step is 1 to {MAX_NAME} characters")
    if key.version < 0:
        raise InvalidObject("a result's version must not be negative")
    if len(key.options_digest) > MAX_NAME:
        raise InvalidObject(f"an options digest is at most {MAX_NAME} characters")


def _validate_kind(kind: str, *, earlier: Sequence[str]) -> None:
    if not kind or len(kind) > MAX_NAME or kind == ORIGINAL:
        raise InvalidObject(f"{kind[:80]!r} is not a derivative kind")
    if kind in earlier:
        raise InvalidObject("a result names each derivative kind once")


def _require_file_id(file_id: str) -> None:
    if not file_id:
        raise InvalidObject("file_id is required")


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

    def store(
        self,
        *,
        key: ResultKey,
        metadata: dict[str, Any],
        file_id: str,
        job_id: str,
        derivatives: Iterable[IncomingDerivative],
    ) -> list[Derivative]:
        """Store the derivatives a step made for `file_id` and remember its result
        (replacing one with the same key), all or nothing; returns the derivatives as
        stored, in the order they came.

        Each derivative's bytes are received and verified (declared size and SHA-256)
        before the next is read; the commit is one transaction once all are in. The
        file must still have its original, and it must be the result's input.
        """
        validate_key(key)
        _require_file_id(file_id)
        received: list[tuple[str, Received]] = []
        try:
            for item in derivatives:
                _validate_kind(item.kind, earlier=[kind for kind, _ in received])
                blob = receive(item.chunks, blobs=self._blobs, declared=item.declared)
                received.append((item.kind, blob))
            result = StepResultInfo(key, metadata, [_received(kind, r) for kind, r in received])
            created = self._commit(result, file_id, job_id, [r for _, r in received])
        finally:
            for _, blob in received:
                blob.writer.abort()  # a no-op once committed
        _log_stored(result, file_id, job_id, created)
        return result.derivatives

    def _commit(
        self, result: StepResultInfo, file_id: str, job_id: str, received: Sequence[Received]
    ) -> set[str]:
        """The store's one transaction; returns the digests whose object rows it created."""
        with self._sessions.begin() as session:
            _lock_file_of(session, file_id, result.key)
            created = _claim_objects(session, result.derivatives)
            for blob in received:
                blob.writer.commit()
            _upsert(session, result, result.derivatives)
            self._link(session, file_id, job_id, result.derivatives)
        return created

    def link(self, *, key: ResultKey, file_id: str, job_id: str) -> None:
        """Give the file the derivatives of the remembered result; ObjectNotFound when
        there is none or one of its blobs is no longer stored."""
        validate_key(key)
        _require_file_id(file_id)
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
        upsert_refs(
            session,
            self._blobs,
            file_id=file_id,
            objects={item.kind: item.object.sha256 for item in derivatives},
            job_id=job_id or None,
        )


def _find(session: Session, key: ResultKey) -> sa.Row[Any] | None:
    """The result's metadata and derivatives, None when none is remembered."""
    return session.execute(_FIND, _key_values(key)).first()


def _key_values(key: ResultKey) -> dict[str, Any]:
    return {column: getattr(key, column) for column in _KEY_COLUMNS}


def _info(key: ResultKey, row: sa.Row[Any]) -> StepResultInfo:
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
    original = lock_original(session, file_id)
    if original is None:
        raise ObjectNotFound(f"file {file_id} has no original object")
    if original != key.input_sha256:
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


def _received(kind: str, received: Received) -> Derivative:
    return Derivative(kind, ObjectInfo(received.sha256, received.size, received.content_type))


def _claim_objects(session: Session, derivatives: Sequence[Derivative]) -> set[str]:
    """Insert or lock the derivatives' object rows in digest order (identical bytes
    under two kinds are one row); returns the digests whose rows were inserted."""
    objects = {item.object.sha256: item.object for item in derivatives}
    return {sha256 for sha256 in sorted(objects) if claim_object(session, objects[sha256])}


def _upsert(session: Session, result: StepResultInfo, derivatives: Sequence[Derivative]) -> None:
    values: dict[str, Any] = {
        "metadata": result.metadata,
        "derivatives": [_derivative_json(item) for item in derivatives],
        "created_at": utcnow(),
    }
    session.execute(_UPSERT, {**_key_values(result.key), **values})


def _derivative_json(item: Derivative) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "sha256": item.object.sha256,
        "size": item.object.size,
        "content_type": item.object.content_type,
    }


def _log_stored(result: StepResultInfo, file_id: str, job_id: str, created: set[str]) -> None:
    for item in result.derivatives:
        fields = {
            "file_id": file_id,
            "job_id": job_id,
            "kind": item.kind,
            "sha256": item.object.sha256,
            "size": item.object.size,
            "content_type": item.object.content_type,
            "created": item.object.sha256 in created,
        }
        logger.info("derivative stored", extra={"fields": fields})
    logger.info("step result recorded", extra={"fields": _fields(result.key, file_id, job_id)})


def _fields(key: ResultKey, file_id: str, job_id: str) -> dict[str, object]:
    return {
        "file_id": file_id,
        "job_id": job_id,
        "sha256": key.input_sha256,
        "step": key.step,
        "version": key.version,
    }
