"""Row-level steps on upload sessions, each inside the caller's transaction.

A session leaves the "open" state exactly once: every closing step is a conditional
UPDATE (`... WHERE state = 'open'`), so a completion, an abort, a rejection and the
sweeper racing for the same session agree on one winner.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from storage_service.db import UploadSession, UploadState, utcnow


def find_open(session: Session, file_id: str) -> UploadSession | None:
    return session.scalar(
        sa.select(UploadSession).where(
            UploadSession.file_id == file_id, UploadSession.state == UploadState.OPEN
        )
    )


def close(
    session: Session,
    session_id: str,
    state: str,
    *,
    error: str | None = None,
    expired_before: datetime | None = None,
    offset: int | None = None,
) -> bool:
    """Move an open session to `state` (recording its final `offset` when given); False
    when it was no longer open (or not expired)."""
    conditions = [UploadSession.id == session_id, UploadSession.state == UploadState.OPEN]
    if expired_before is not None:
        conditions.append(UploadSession.expires_at <= expired_before)
    values: dict[str, object] = {"state": state, "error": error, "updated_at": utcnow()}
    if offset is not None:
        values["offset"] = offset
    statement = (
        sa.update(UploadSession)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(statement).rowcount == 1)  # type: ignore[attr-defined]


def advance(session: Session, session_id: str, *, settled: int, offset: int) -> bool:
    """Record the bytes received: only if the session is open and still at `settled`."""
    statement = (
        sa.update(UploadSession)
        .where(
            UploadSession.id == session_id,
            UploadSession.state == UploadState.OPEN,
            UploadSession.offset == settled,
        )
        .values(offset=offset, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(statement).rowcount == 1)  # type: ignore[attr-defined]


def expired(session: Session, now: datetime, limit: int) -> list[tuple[str, str]]:
    """(session id, file id) of open sessions whose expiry has passed, oldest first."""
    rows = session.execute(
        sa.select(UploadSession.id, UploadSession.file_id)
        .where(UploadSession.state == UploadState.OPEN, UploadSession.expires_at <= now)
        .order_by(UploadSession.expires_at)
        .limit(limit)
    )
    return [(session_id, file_id) for session_id, file_id in rows]
