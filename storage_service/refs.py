"""Row-level steps of a commit: claiming an object row, referencing it, releasing it.

Every function runs inside the caller's transaction. An object row is locked before
its blob is published or removed, which serialises a write and a delete of the same
bytes (SQLite serialises all writers anyway). Whatever adds references to an existing
file locks the file's original reference first, as deleting the file does, so no
reference is added to a file that is being deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage_service.blobs import BlobStore
from storage_service.db import (
    ORIGINAL,
    ObjectRef,
    StepResult,
    StoredObject,
    insert_on_conflict,
    utcnow,
)
from storage_service.errors import AlreadyExists
from storage_service.records import ObjectInfo

logger = logging.getLogger(__name__)

_CLAIM_ATTEMPTS = 3

# The statements of the per-job paths, built once: building a statement costs more
# CPU than running it, and these run several times per stored result. They are Core
# statements on the tables, so no ORM object is loaded only to read one column.
_OBJECTS = cast(sa.Table, StoredObject.__table__)
_REFS = cast(sa.Table, ObjectRef.__table__)
_INSERT_OBJECT = insert_on_conflict(
    _OBJECTS, columns=["sha256", "size", "content_type", "created_at"], conflict=["sha256"]
)
_LOCK_OBJECT_KEY = (
    sa.select(_OBJECTS.c.sha256)
    .where(_OBJECTS.c.sha256 == sa.bindparam("sha256"))
    .with_for_update()
)
_LOCK_REF = (
    sa.select(_REFS.c.id, _REFS.c.sha256)
    .where(_REFS.c.file_id == sa.bindparam("file_id"), _REFS.c.kind == sa.bindparam("kind"))
    .with_for_update()
)
_INSERT_REF = sa.insert(_REFS)
_REPOINT_REF = (
    sa.update(_REFS)
    .where(_REFS.c.id == sa.bindparam("ref_id"))
    .values(sha256=sa.bindparam("new_sha256"), job_id=sa.bindparam("new_job_id"))
)


def claim_object(session: Session, info: ObjectInfo) -> bool:
    """Insert the object row if absent and lock it; True when this call inserted it."""
    for _ in range(_CLAIM_ATTEMPTS):
        if _insert_object(session, info):
            return True
        # The row exists: lock it. None means a concurrent delete just removed it.
        if session.scalar(_LOCK_OBJECT_KEY, {"sha256": info.sha256}) is not None:
            return False
    raise RuntimeError(f"could not claim object {info.sha256}")


def _insert_object(session: Session, info: ObjectInfo) -> bool:
    values = {
        "sha256": info.sha256,
        "size": info.size,
        "content_type": info.content_type,
        "created_at": utcnow(),
    }
    result = session.execute(_INSERT_OBJECT, values)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _lock_object(session: Session, sha256: str) -> StoredObject | None:
    return session.scalar(
        sa.select(StoredObject)
        .where(StoredObject.sha256 == sha256)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_objects(session: Session, digests: Iterable[str]) -> dict[str, StoredObject]:
    """Lock the object rows that exist among `digests`, in digest order (the order
    release_objects uses, so two transactions never wait on each other in a circle)."""
    return {
        sha256: row
        for sha256 in sorted(set(digests))
        if (row := _lock_object(session, sha256)) is not None
    }


def lock_original(session: Session, file_id: str) -> str | None:
    """Lock the file's original reference; returns the original's digest, None when the
    file has none (or no longer)."""
    row = session.execute(_LOCK_REF, {"file_id": file_id, "kind": ORIGINAL}).first()
    return None if row is None else str(row.sha256)


def insert_ref(
    session: Session, *, file_id: str, kind: str, sha256: str, job_id: str | None = None
) -> None:
    """Reference an object; a second reference of the same kind is AlreadyExists."""
    values = {"file_id": file_id, "kind": kind, "sha256": sha256, "job_id": job_id}
    try:
        session.execute(_INSERT_REF, values)
    except IntegrityError as exc:
        raise AlreadyExists(f"file {file_id} already has an {kind} object") from exc


def upsert_refs(
    session: Session,
    blobs: BlobStore,
    *,
    file_id: str,
    objects: Mapping[str, str],
    job_id: str | None,
) -> None:
    """Point each of the file's kinds in `objects` at its object (by digest), then
    release what they pointed at before. Releasing comes last, so an object that moves
    from one kind to another is never removed in between."""
    replaced: set[str] = set()
    for kind, sha256 in objects.items():
        previous = _point_ref(session, file_id, kind, sha256, job_id)
        if previous is not None and previous != sha256:
            replaced.add(previous)
    release_objects(session, blobs, replaced)


def _point_ref(
    session: Session, file_id: str, kind: str, sha256: str, job_id: str | None
) -> str | None:
    """Point the file's `kind` at the object; returns the digest it pointed at before."""
    existing = session.execute(_LOCK_REF, {"file_id": file_id, "kind": kind}).first()
    if existing is None:
        insert_ref(session, file_id=file_id, kind=kind, sha256=sha256, job_id=job_id)
        return None
    repoint = {"ref_id": existing.id, "new_sha256": sha256, "new_job_id": job_id}
    session.execute(_REPOINT_REF, repoint)
    return str(existing.sha256)


def release_objects(session: Session, blobs: BlobStore, digests: Iterable[str]) -> int:
    """Remove the objects nothing references any more; returns how many were removed."""
    removed = 0
    for sha256 in sorted(digests):
        row = _lock_object(session, sha256)
        if row is None or _referenced(session, sha256):
            continue
        session.delete(row)
        _forget_results(session, sha256)
        session.flush()
        # Removed while the row lock is held, so a concurrent write of the same bytes
        # waits and then publishes its own copy.
        blobs.delete(sha256)
        removed += 1
        logger.info("blob removed", extra={"fields": {"sha256": sha256}})
    return removed


def _referenced(session: Session, sha256: str) -> bool:
    query = sa.select(sa.exists().where(ObjectRef.sha256 == sha256))
    return bool(session.scalar(query))


def _forget_results(session: Session, input_sha256: str) -> None:
    """What was learned from content goes with the content."""
    session.execute(sa.delete(StepResult).where(StepResult.input_sha256 == input_sha256))
