"""Upload intents: an upload announced before its bytes move.

An intent checks the size limit and the type the name claims, reserves the size against
the owner's quotas, creates the File (awaiting its bytes), and only then, outside any
transaction, asks storage for a resumable upload session. With an Idempotency-Key a
retried intent finds the first one (and its session) and reserves nothing more.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from usp.errors import ServiceError
from usp.storage_client import UploadSessionInfo
from webapp.accounts.models import User
from webapp.core.errors import Conflict, InvalidInput, Unprocessable
from webapp.files.models import FileState, UploadIntent
from webapp.files.services import (
    UPLOAD_EXPIRED,
    file_discard,
    file_reserve,
    upload_admit,
    upload_ended_record,
)
from webapp.files.storage import get_storage_client, storage_error

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX_LENGTH = 255
# How long past its expiry an unfinished upload waits for storage's own "upload.ended"
# before the webapp gives up on it; and how long an intent may wait for its session.
STALE_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class IntentRequest:
    """What the client announces, as validated: the name as sent, the exact size, an
    optional SHA-256 (lowercase hex) and an optional pipeline."""

    name: str
    size: int
    sha256: str = ""
    pipeline: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def upload_intent_create(
    *, owner: User, request: IntentRequest, idempotency_key: str = ""
) -> UploadIntent:
    """The intent and its open upload session.

    Raises TooLarge, TypeNotAllowed or QuotaExceeded before anything is created;
    ServiceUnavailable (and the reservation released, no File left) when storage cannot
    open the session; Unprocessable when `idempotency_key` was used for another request.
    """
    _idempotency_key_check(idempotency_key)
    if idempotency_key:
        earlier = _intent_for_key(owner, idempotency_key, request)
        if earlier is not None:
            return _intent_resume(earlier, request)
    upload_admit(name=request.name, size=request.size)
    try:
        intent = _intent_reserve(owner, request, idempotency_key)
    except IntegrityError:
        # A concurrent intent with the same key won the race: this one is its retry.
        earlier = _intent_for_key(owner, idempotency_key, request)
        if earlier is None:
            raise
        return _intent_resume(earlier, request)
    return _intent_open(intent, request)


def _idempotency_key_check(key: str) -> None:
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"An Idempotency-Key is at most {IDEMPOTENCY_KEY_MAX_LENGTH} printable characters.",
            code="invalid_idempotency_key",
        )


def _intent_for_key(owner: User, key: str, request: IntentRequest) -> UploadIntent | None:
    intent = (
        UploadIntent.objects.select_related("file").filter(owner=owner, idempotency_key=key).first()
    )
    if intent is not None and intent.fingerprint != request.fingerprint():
        raise Unprocessable(
            "This Idempotency-Key was already used for a different upload; "
            "use a new key for a new upload.",
            code="idempotency_key_reused",
        )
    return intent


@transaction.atomic
def _intent_reserve(owner: User, request: IntentRequest, key: str) -> UploadIntent:
    file = file_reserve(owner=owner, name=request.name, size=request.size)
    return UploadIntent.objects.create(
        file=file, owner=owner, idempotency_key=key, fingerprint=request.fingerprint()
    )


def _intent_resume(intent: UploadIntent, request: IntentRequest) -> UploadIntent:
    """A retried intent: the same session; asked for again if the first attempt never
    recorded it (storage returns the open session of a file)."""
    logger.info(
        "upload intent retried",
        extra={"fields": {"file_id": intent.file_id, "has_session": intent.has_session}},
    )
    if intent.has_session:
        return intent
    return _intent_open(intent, request)


def _intent_open(intent: UploadIntent, request: IntentRequest) -> UploadIntent:
    try:
        session = get_storage_client().create_upload_session(
            file_id=str(intent.file_id),
            owner_id=str(intent.owner_id),
            name=intent.file.name,
            size=request.size,
            declared_sha256=request.sha256,
            pipeline=request.pipeline,
            allowed_types=settings.USP.allowed_types,
            expires_in_seconds=settings.USP.upload_expiry,
        )
    except ServiceError as error:
        file_discard(file_id=intent.file_id)
        logger.warning(
            "upload session not opened; reservation released",
            extra={"fields": {"file_id": intent.file_id, "status": error.status.name}},
        )
        raise storage_error(error) from error
    return _intent_session_save(intent, session)


def _intent_session_save(intent: UploadIntent, session: UploadSessionInfo) -> UploadIntent:
    intent.session_id = session.session_id
    intent.upload_url = session.upload_url
    intent.expires_at = session.expires_at
    intent.max_size = session.max_size
    saved = UploadIntent.objects.filter(pk=intent.pk).update(
        session_id=session.session_id,
        upload_url=session.upload_url,
        expires_at=session.expires_at,
        max_size=session.max_size,
    )
    if not saved:
        raise Conflict("The upload was cancelled meanwhile.", code="upload_cancelled")
    logger.info(
        "upload intent opened",
        extra={
            "fields": {
                "file_id": intent.file_id,
                "session_id": session.session_id,
                "size": session.max_size,
            }
        },
    )
    return intent


def upload_intents_expire(*, now: datetime | None = None) -> int:
    """Give up on uploads storage will never report: sessions an hour past their expiry
    (their File is marked expired) and intents that never got a session an hour after
    they were made (their File is deleted). Reservations are released; returns how many
    uploads were ended. Bytes stored later still count, when "file.stored" arrives."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = UploadIntent.objects.filter(file__state=FileState.AWAITING_UPLOAD).filter(
        Q(expires_at__lt=cutoff) | Q(upload_url="", created_at__lt=cutoff)
    )
    ended = 0
    for intent in stale.only("file_id", "upload_url"):
        if intent.has_session:
            upload_ended_record(file_id=intent.file_id, reason=UPLOAD_EXPIRED)
        else:
            file_discard(file_id=intent.file_id)
        ended += 1
    logger.info("stale uploads ended", extra={"fields": {"count": ended}})
    return ended
