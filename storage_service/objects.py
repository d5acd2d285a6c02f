"""The storage domain: write, read, describe and delete objects.

A write is verified completely before anything is stored. Its commit is one database
transaction: the object row (if new), the file's reference to it, and for an original
upload the outbox rows that dispatch its jobs. The blob is renamed into place inside
that transaction, after the object row is locked, so a concurrent delete of the same
bytes cannot remove a blob that is about to be referenced.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import BinaryIO, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage_service import dispatch, pipelines, policy
from storage_service.blobs import BlobStore, SealedBlob, is_sha256
from storage_service.db import ORIGINAL, ObjectRef, OutboxMessage, StoredObject
from storage_service.errors import (
    AlreadyExists,
    InvalidObject,
    ObjectNotFound,
    OutOfRange,
)
from storage_service.ingest import Declared, receive
from storage_service.records import Job, ObjectInfo, OutboxEntry, WriteOutcome
from storage_service.refs import (
    claim_object,
    insert_ref,
    lock_original,
    release_objects,
)

logger = logging.getLogger(__name__)

# Below glibc's grown mmap threshold: a read's buffers (the chunk, its message, its
# serialisation) are reused heap memory instead of fresh mappings faulted in page by
# page, which cost more CPU than the copies themselves for a ~500 KB object.
READ_CHUNK = 256 * 1024
_OBJECTS = cast(sa.Table, StoredObject.__table__)
# Built once: a read's stat is one cached Core query, no ORM object loaded.
_STAT = sa.select(_OBJECTS.c.sha256, _OBJECTS.c.size, _OBJECTS.c.content_type).where(
    _OBJECTS.c.sha256 == sa.bindparam("sha256")
)


def _require_sha256(sha256: str) -> None:
    if not is_sha256(sha256):
        raise InvalidObject("sha256 must be 64 lowercase hex characters")


def _require(value: str, what: str) -> None:
    if not value:
        raise InvalidObject(f"{what} is required")


class Storage:
    """Objects on a blob store, described by a database, dispatched through an outbox."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        namespace: str,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._blobs = blobs
        self._namespace = namespace
        self._on_commit = on_commit

    def write_original(
        self,
        *,
        file_id: str,
        chunks: Iterable[bytes],
        name: str = "",
        declared_size: int | None = None,
        declared_sha256: str = "",
        pipeline: Sequence[str] | Callable[[], Sequence[str]] = (),
        allowed_types: Sequence[str] = (),
    ) -> WriteOutcome:
        """Store a file's original upload and dispatch its processing jobs.

        `pipeline` names the steps, or is a callable that names them once the chunks are
        read (a stream's trailer). The sniffed type must match `allowed_types` (empty
        allows any), else TypeNotAllowed and nothing is stored.
        """
        _require(file_id, "file_id")
        patterns = policy.validate(allowed_types)
        self._refuse_existing_original(file_id)
        received = receive(
            chunks, blobs=self._blobs, declared=Declared(declared_size, declared_sha256)
        )
        info = ObjectInfo(received.sha256, received.size, received.content_type)
        try:
            steps = pipeline() if callable(pipeline) else pipeline
            pipelines.validate(steps)
            policy.require_allowed(patterns, info.content_type)
            return self.commit_original(
                file_id=file_id, blob=received.writer, info=info, pipeline=steps, name=name
            )
        finally:
            received.writer.abort()  # a no-op once committed

    def commit_original(
        self,
        *,
        file_id: str,
        blob: SealedBlob,
        info: ObjectInfo,
        pipeline: Sequence[str] = (),
        name: str = "",
        in_transaction: Callable[[Session], None] | None = None,
    ) -> WriteOutcome:
        """Commit verified bytes as a file's original, in one transaction: the object row,
        the file's reference, the blob's rename into place and the outbox rows dispatching
        its jobs. `in_transaction` runs first inside that transaction (a resumable upload
        closes its session there); whatever it raises rolls everything back.
        """
        steps = pipelines.resolve(pipeline, info.content_type)
        jobs = [Job(str(uuid.uuid4()), step) for step in steps]
        outcome = self._commit_original(file_id, blob, info, jobs, in_transaction)
        logger.info(
            "original stored",
            extra={"fields": _log_fields(file_id, outcome, name=name[:255])},
        )
        self._on_commit()
        return outcome

    def stat(self, sha256: str) -> ObjectInfo:
        _require_sha256(sha256)
        with self._sessions() as session:
            row = session.execute(_STAT, {"sha256": sha256}).first()
        if row is None:
            raise ObjectNotFound(f"no object with sha256 {sha256}")
        return ObjectInfo(row.sha256, row.size, row.content_type)

    def read(self, sha256: str, *, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        """The object's bytes from `offset`, `length` of them (0: to the end)."""
        if offset < 0 or length < 0:
            raise InvalidObject("offset and length must not be negative")
        info = self.stat(sha256)
        if offset > info.size:
            raise OutOfRange(f"offset {offset} is beyond the end of the object ({info.size} bytes)")
        end = info.size if length == 0 else min(info.size, offset + length)
        try:
            stream = self._blobs.open(sha256)
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"the bytes of object {sha256} are missing") from exc
        return _read_range(stream, offset, end - offset)

    def delete_file(self, file_id: str) -> int:
        """Forget every object of a file; returns how many blobs were removed."""
        _require(file_id, "file_id")
        with self._sessions.begin() as session:
            # The original first: whatever adds references to the file holds it too, and
            # the next statement then sees every reference they committed.
            lock_original(session, file_id)
            refs = session.scalars(
                sa.select(ObjectRef).where(ObjectRef.file_id == file_id).with_for_update()
            ).all()
            digests = {ref.sha256 for ref in refs}
            for ref in refs:
                session.delete(ref)
            session.flush()
            removed = release_objects(session, self._blobs, digests)
        logger.info(
            "file deleted",
            extra={"fields": {"file_id": file_id, "refs": len(refs), "blobs_removed": removed}},
        )
        return removed

    def has_original(self, file_id: str) -> bool:
        return self._original_sha256(file_id) is not None

    def _refuse_existing_original(self, file_id: str) -> None:
        if self.has_original(file_id):
            raise AlreadyExists(f"file {file_id} already has an original object")

    def _original_sha256(self, file_id: str) -> str | None:
        with self._sessions() as session:
            return session.scalar(
                sa.select(ObjectRef.sha256).where(
                    ObjectRef.file_id == file_id, ObjectRef.kind == ORIGINAL
                )
            )

    def _commit_original(
        self,
        file_id: str,
        blob: SealedBlob,
        info: ObjectInfo,
        jobs: list[Job],
        in_transaction: Callable[[Session], None] | None,
    ) -> WriteOutcome:
        try:
            with self._sessions.begin() as session:
                if in_transaction is not None:
                    in_transaction(session)
                created = claim_object(session, info)
                insert_ref(session, file_id=file_id, kind=ORIGINAL, sha256=info.sha256)
                blob.commit()
                entries = dispatch.outbox_entries(
                    file_id=file_id, obj=info, dispatched=jobs, namespace=self._namespace
                )
                add_outbox(session, entries)
        finally:
            blob.abort()
        return WriteOutcome(info, created, jobs)


def add_outbox(session: Session, entries: Iterable[OutboxEntry]) -> None:
    """Queue messages for the relay inside the caller's transaction."""
    session.add_all(
        OutboxMessage(kind=entry.kind, body=entry.body, attempts=0) for entry in entries
    )


def _read_range(stream: BinaryIO, offset: int, remaining: int) -> Iterator[bytes]:
    with stream as file:
        file.seek(offset)
        while remaining > 0:
            chunk = file.read(min(READ_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _log_fields(file_id: str, outcome: WriteOutcome, **extra: str) -> dict[str, object]:
    return {
        "file_id": file_id,
        "sha256": outcome.object.sha256,
        "size": outcome.object.size,
        "content_type": outcome.object.content_type,
        "created": outcome.created,
        "jobs": ",".join(job.job_id for job in outcome.jobs),
        **extra,
    }
