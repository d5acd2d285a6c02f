"""Resumable upload sessions: the domain behind CreateUploadSession and the data plane.

A session is created with what the file must be (size, optional SHA-256, type policy)
and gets a signed location. Bytes arrive at offsets (`begin_write` ... `settle`) into the
session's partial file; when the last byte is settled the upload is verified (SHA-256,
sniffed type) and committed by `Storage.commit_original` -- the same commit as
WriteObject, with the partial file renamed into content-addressed storage and the
session closed in the same transaction. A session that fails verification is rejected;
one the client terminates is aborted; one left past its expiry is expired by the
sweeper. Each of those ends publishes "upload.ended" through the outbox.
"""

from __future__ import annotations

import enum
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage_service import pipelines, policy, signing, upload_rows
from storage_service.blobs import BlobStore
from storage_service.db import UploadSession, UploadState, utcnow
from storage_service.errors import (
    AlreadyExists,
    ChecksumMismatch,
    Forbidden,
    InvalidObject,
    Locked,
    OffsetMismatch,
    SessionExpired,
    SessionNotFound,
    TooLarge,
    UploadRejected,
)
from storage_service.ingest import Declared, validate_declared
from storage_service.objects import Storage
from storage_service.partials import ChunkChecksum, HasherCache, PartialWrite
from storage_service.records import ObjectInfo, UploadInfo, WriteOutcome
from storage_service.signing import Signer
from storage_service.sniff import HEAD_SIZE, sniff
from storage_service.upload_book import SessionBook, claims_of

logger = logging.getLogger(__name__)

SWEEP_BATCH = 100
NAME_LIMIT = 255
_INVISIBLE = {*range(0x20), 0x7F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


class BodyEnd(enum.Enum):
    """How a request body ended: all of it arrived, the client went away, it ran past the
    upload's size, or storing it failed."""

    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    TOO_LARGE = "too_large"
    FAILED = "failed"


@dataclass(frozen=True)
class Settled:
    """The session after a write; `stored` is set when that write completed the upload."""

    info: UploadInfo
    stored: WriteOutcome | None = None


def _clean_name(name: str) -> str:
    """A name fit for logs: no control or bidi characters, at most 255 characters."""
    return "".join(ch for ch in name if ord(ch) not in _INVISIBLE)[:NAME_LIMIT]


def _require(value: str, what: str) -> None:
    if not value:
        raise InvalidObject(f"{what} is required")


class Uploads:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        storage: Storage,
        signer: Signer,
        base_url: str,
        default_expiry: int,
        max_size: int,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._blobs = blobs
        self._storage = storage
        self._signer = signer
        self._default_expiry = default_expiry
        self.max_size = max_size
        self._clock = clock
        self._hashers = HasherCache()
        self._book = SessionBook(
            sessions=sessions,
            blobs=blobs,
            signer=signer,
            base_url=base_url,
            clock=clock,
            on_end=self._hashers.drop,
            on_commit=on_commit,
        )
        self.base_url = self._book.base_url

    # -- the control plane ------------------------------------------------------------

    def create(
        self,
        *,
        file_id: str,
        owner_id: str,
        size: int,
        name: str = "",
        declared_sha256: str = "",
        pipeline: Sequence[str] = (),
        allowed_types: Sequence[str] = (),
        expires_in: int = 0,
    ) -> UploadInfo:
        """Open a session for a file, or return the file's open session when it matches."""
        self._validate_new(file_id, owner_id, size, declared_sha256, expires_in)
        pipelines.validate(pipeline)
        patterns = policy.validate(allowed_types)
        if self._storage.has_original(file_id):
            raise AlreadyExists(f"file {file_id} already has an original object")
        existing = self._reusable(file_id, owner_id, size, declared_sha256)
        if existing is not None:
            return existing
        row = UploadSession(
            id=uuid.uuid4().hex,
            file_id=file_id,
            owner_id=owner_id,
            name=_clean_name(name),
            size=size,
            declared_sha256=declared_sha256,
            pipeline=list(pipeline),
            allowed_types=patterns,
            offset=0,
            state=UploadState.OPEN,
            expires_at=self._expiry(expires_in),
        )
        return self._insert(row)

    def abort(self, file_id: str) -> bool:
        """End the file's open session ("upload.ended" aborted); False when it had none."""
        _require(file_id, "file_id")
        row = self._book.find_open(file_id)
        if row is None:
            return False
        return self._book.end(row.id, row.file_id, UploadState.ABORTED)

    def sweep_once(self, now: datetime | None = None) -> int:
        """Expire every open session past its expiry; returns how many were expired."""
        now = now or self._clock()
        expired = 0
        while True:
            rows = self._book.expired(now, SWEEP_BATCH)
            for session_id, file_id in rows:
                expired += self._book.end(session_id, file_id, UploadState.EXPIRED, before=now)
            if len(rows) < SWEEP_BATCH:
                break
        self._book.remove_orphans(now)
        return expired

    # -- the data plane ---------------------------------------------------------------

    def authorize(self, session_id: str, query: Mapping[str, str]) -> UploadInfo:
        """The open session a signed location names, or why it may not be used:
        Forbidden (unsigned, tampered, unknown key), SessionExpired, SessionNotFound."""
        claims = self._signer.verify(signing.from_query(session_id, query))
        if claims.expires_at <= self._clock().timestamp():
            raise SessionExpired("the upload location has expired")
        row = self._book.row(session_id)
        if claims_of(row) != claims:
            raise Forbidden("the upload location does not match its session")
        return self._book.open_info(row)

    def terminate(self, info: UploadInfo) -> None:
        """The client ends its own upload (tus termination)."""
        if not self._book.end(info.session_id, info.file_id, UploadState.ABORTED):
            raise self._book.closed_error(info.session_id)

    def begin_write(
        self, info: UploadInfo, *, offset: int | None, checksum: ChunkChecksum | None = None
    ) -> PartialWrite:
        """Lock the session's file for one request's bytes, starting at `offset` (None:
        start over at byte 0). Locked, OffsetMismatch, or the session's end."""
        try:
            write = PartialWrite.open(self._blobs.partial_path(info.session_id), limit=info.size)
        except FileNotFoundError as exc:
            raise self._book.closed_error(info.session_id) from exc
        try:
            current = self._book.open_info(self._book.row(info.session_id))
            if offset is not None and offset != current.offset:
                raise OffsetMismatch(
                    f"Upload-Offset {offset} does not match the upload's offset {current.offset}"
                )
            hasher = None if offset is None else self._hashers.get(info.session_id, current.offset)
            write.prepare(settled=current.offset, hasher=hasher, restart=offset is None)
            write.expect_checksum(checksum)
        except BaseException:
            write.close()
            raise
        return write

    def settle(self, info: UploadInfo, write: PartialWrite, *, ended: BodyEnd) -> Settled:
        """Keep (fsync, record) or discard what a request wrote, complete the upload when
        its last byte arrived, and release the lock."""
        try:
            return self._settle(info, write, ended)
        finally:
            write.close()

    def complete_if_full(self, info: UploadInfo) -> UploadInfo:
        """Finish a session that has every byte but no object (a zero-byte upload, or a
        completion cut short); a no-op while another request holds the upload."""
        if info.offset != info.size:
            return info
        try:
            write = self.begin_write(info, offset=info.offset)
        except Locked:
            return info
        try:
            return self._complete(info, write).info
        finally:
            write.close()

    # -- internals --------------------------------------------------------------------

    def _validate_new(
        self, file_id: str, owner_id: str, size: int, declared_sha256: str, expires_in: int
    ) -> None:
        _require(file_id, "file_id")
        _require(owner_id, "owner_id")
        validate_declared(Declared(size, declared_sha256))
        if size > self.max_size:
            raise TooLarge(f"size {size} exceeds the {self.max_size} byte limit")
        if expires_in < 0:
            raise InvalidObject("expires_in_seconds must not be negative")

    def _expiry(self, expires_in: int) -> datetime:
        moment = self._clock() + timedelta(seconds=expires_in or self._default_expiry)
        # Whole seconds (the signed location carries Unix seconds), rounded up.
        if moment.microsecond:
            moment = moment.replace(microsecond=0) + timedelta(seconds=1)
        return moment

    def _reusable(
        self, file_id: str, owner_id: str, size: int, declared_sha256: str
    ) -> UploadInfo | None:
        """The file's open session when a retried request may reuse it."""
        row = self._book.find_open(file_id)
        if row is None:
            return None
        if self._book.is_past_expiry(row):
            self._book.end(row.id, row.file_id, UploadState.EXPIRED, before=self._clock())
            return None
        if (row.owner_id, row.size, row.declared_sha256) != (owner_id, size, declared_sha256):
            raise AlreadyExists(
                f"file {file_id} has an open upload session for another owner, size or sha256"
            )
        return self._book.info(row)

    def _insert(self, row: UploadSession) -> UploadInfo:
        path = self._blobs.partial_path(row.id)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            self._book.add(row)
        except IntegrityError:
            # A concurrent request opened the file's session first: answer with that one.
            path.unlink(missing_ok=True)
            existing = self._reusable(row.file_id, row.owner_id, row.size, row.declared_sha256)
            if existing is None:
                raise
            return existing
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        logger.info(
            "upload session created",
            extra={"fields": {"session_id": row.id, "file_id": row.file_id, "size": row.size}},
        )
        return self._book.info(row)

    def _settle(self, info: UploadInfo, write: PartialWrite, ended: BodyEnd) -> Settled:
        if ended in (BodyEnd.TOO_LARGE, BodyEnd.FAILED):
            write.discard()
            saved = self._save(info, write)
            if ended is BodyEnd.FAILED:
                return Settled(saved)  # the caller reports the failure
            raise TooLarge(f"the body runs past the upload's {info.size} bytes; none of it kept")
        if write.has_checksum and ended is not BodyEnd.COMPLETE:
            write.discard()  # an incomplete chunk cannot be verified
        try:
            write.verify_chunk()
        except ChecksumMismatch:
            self._save(info, write)
            raise
        if ended is BodyEnd.COMPLETE and write.offset == info.size:
            # The last byte arrived: the offset is recorded with the object, in one commit.
            write.sync()
            return self._complete(replace(info, offset=write.offset), write)
        saved = self._save(info, write)
        if ended is BodyEnd.INTERRUPTED:
            logger.info(
                "upload body interrupted",
                extra={"fields": {"session_id": info.session_id, "offset": saved.offset}},
            )
        return Settled(saved)

    def _save(self, info: UploadInfo, write: PartialWrite) -> UploadInfo:
        """Make the bytes durable, then record the new offset."""
        write.sync()
        if write.offset != write.settled:
            recorded = self._book.advance(
                info.session_id, settled=write.settled, offset=write.offset
            )
            if not recorded:
                raise self._book.closed_error(info.session_id)
        self._hashers.put(info.session_id, write.offset, write.hasher)
        return replace(info, offset=write.offset)

    def _complete(self, info: UploadInfo, write: PartialWrite) -> Settled:
        sha256 = write.sha256
        if info.declared_sha256 and sha256 != info.declared_sha256:
            message = f"sha256 mismatch: declared {info.declared_sha256}, received {sha256}"
            self._reject(info, "sha256_mismatch", message)
        content_type = sniff(write.head(HEAD_SIZE), complete=info.size <= HEAD_SIZE)
        if not policy.allows(info.allowed_types, content_type):
            self._reject(info, "type_not_allowed", f"type {content_type} is not allowed")
        try:
            outcome = self._storage.commit_original(
                file_id=info.file_id,
                blob=self._blobs.adopt(write.path, sha256),
                info=ObjectInfo(sha256, info.size, content_type),
                pipeline=info.pipeline,
                name=info.name,
                in_transaction=lambda session: _mark_completed(session, info),
            )
        except AlreadyExists as exc:
            self._reject(info, "already_exists", exc.message)
        self._hashers.drop(info.session_id)
        return Settled(replace(info, state=UploadState.COMPLETED), outcome)

    def _reject(self, info: UploadInfo, code: str, message: str) -> NoReturn:
        self._book.end(
            info.session_id, info.file_id, UploadState.REJECTED, code=code, message=message
        )
        raise UploadRejected(message, code=code)


def _mark_completed(session: Session, info: UploadInfo) -> None:
    if not upload_rows.close(session, info.session_id, UploadState.COMPLETED, offset=info.size):
        raise SessionNotFound(f"upload session {info.session_id} ended before it was committed")
