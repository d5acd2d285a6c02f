"""The book of upload sessions: their rows, signed locations and ends.

A session ends once, without an object, as "aborted", "expired" or "rejected": the
state change and its "upload.ended" outbox row commit together, then its partial file
is removed. (A completed session ends inside the object's commit instead.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from storage_service import signing, upload_rows
from storage_service.blobs import BlobStore
from storage_service.db import UploadSession, UploadState, as_utc
from storage_service.dispatch import upload_ended_entry
from storage_service.errors import SessionExpired, SessionNotFound
from storage_service.objects import add_outbox
from storage_service.records import UploadInfo
from storage_service.signing import Signer, UploadClaims

logger = logging.getLogger(__name__)

ORPHAN_GRACE = timedelta(minutes=1)


def claims_of(row: UploadSession) -> UploadClaims:
    return UploadClaims(row.id, row.owner_id, row.size, int(as_utc(row.expires_at).timestamp()))


class SessionBook:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        signer: Signer,
        base_url: str,
        clock: Callable[[], datetime],
        on_end: Callable[[str], None],
        on_commit: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._blobs = blobs
        self._signer = signer
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._on_end = on_end
        self._on_commit = on_commit

    def row(self, session_id: str) -> UploadSession:
        with self._sessions() as session:
            row = session.get(UploadSession, session_id)
        if row is None:
            raise SessionNotFound(f"no upload session {session_id}")
        return row

    def find_open(self, file_id: str) -> UploadSession | None:
        with self._sessions() as session:
            return upload_rows.find_open(session, file_id)

    def add(self, row: UploadSession) -> None:
        """Insert a new session (IntegrityError when the file already has an open one)."""
        with self._sessions.begin() as session:
            session.add(row)

    def advance(self, session_id: str, *, settled: int, offset: int) -> bool:
        """Record received bytes; False when the session was closed meanwhile."""
        with self._sessions.begin() as session:
            return upload_rows.advance(session, session_id, settled=settled, offset=offset)

    def open_info(self, row: UploadSession) -> UploadInfo:
        """The session when it accepts bytes; SessionExpired or SessionNotFound if not."""
        if row.state == UploadState.OPEN and not self.is_past_expiry(row):
            return self.info(row)
        if row.state in (UploadState.OPEN, UploadState.EXPIRED):
            raise SessionExpired(f"upload session {row.id} has expired")
        raise SessionNotFound(f"upload session {row.id} is {row.state}")

    def is_past_expiry(self, row: UploadSession) -> bool:
        return as_utc(row.expires_at) <= self._clock()

    def closed_error(self, session_id: str) -> SessionNotFound | SessionExpired:
        """Why a session no longer accepts bytes."""
        try:
            self.open_info(self.row(session_id))
        except (SessionNotFound, SessionExpired) as error:
            return error
        return SessionNotFound(f"the bytes of upload session {session_id} are missing")

    def info(self, row: UploadSession) -> UploadInfo:
        return UploadInfo(
            session_id=row.id,
            file_id=row.file_id,
            owner_id=row.owner_id,
            name=row.name,
            size=row.size,
            declared_sha256=row.declared_sha256,
            pipeline=tuple(row.pipeline),
            allowed_types=tuple(row.allowed_types),
            offset=row.offset,
            state=row.state,
            expires_at=as_utc(row.expires_at),
            upload_url=self._location(row),
        )

    def _location(self, row: UploadSession) -> str:
        signed = self._signer.sign(claims_of(row))
        return f"{self.base_url}/uploads/{row.id}?{signing.to_query(signed)}"

    def end(
        self,
        session_id: str,
        file_id: str,
        state: str,
        *,
        code: str = "",
        message: str = "",
        before: datetime | None = None,
    ) -> bool:
        """Close an open session without an object and publish "upload.ended"; False when
        it was no longer open (or, with `before`, not expired by then)."""
        with self._sessions.begin() as session:
            if not upload_rows.close(
                session, session_id, state, error=message or None, expired_before=before
            ):
                return False
            event = upload_ended_entry(file_id=file_id, reason=state, code=code, message=message)
            add_outbox(session, [event])
        self._blobs.partial_path(session_id).unlink(missing_ok=True)
        self._on_end(session_id)
        self._on_commit()
        logger.info(
            "upload ended",
            extra={"fields": {"session_id": session_id, "file_id": file_id, "reason": state}},
        )
        return True

    def expired(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        with self._sessions() as session:
            return upload_rows.expired(session, now, limit)

    def remove_orphans(self, now: datetime) -> int:
        """Remove partial files no open session owns (a crash between a session's end and
        its file's removal leaves one); files younger than a minute may be a session
        being created."""
        names = {path.name for path in self._blobs.partial_dir.iterdir()}
        with self._sessions() as session:
            open_ids = set(
                session.scalars(
                    sa.select(UploadSession.id).where(UploadSession.state == UploadState.OPEN)
                )
            )
        cutoff = (now - ORPHAN_GRACE).timestamp()
        removed = 0
        for name in names - open_ids:
            path = self._blobs.partial_dir / name
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
