"""API tokens: creation, and authentication of a presented key."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from webapp.accounts.models import ApiToken, Usage, User
from webapp.core.errors import InvalidInput, QuotaExceeded

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "usp_"  # noqa: S105 - a public marker, not a secret
LOOKUP_PREFIX_LENGTH = 8
LAST_USED_GRANULARITY = timedelta(minutes=1)
AUTHORIZATION_SCHEMES = ("token", "bearer")


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> str:
    # token_urlsafe(30) encodes 30 random bytes as exactly 40 URL-safe characters.
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the key, which is never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("A token needs a name.", code="token_name_required")
    key = _new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[:LOOKUP_PREFIX_LENGTH],
        key_hash=_key_hash(key),
        expires_at=expires_at,
    )
    logger.info(
        "api token created",
        extra={"fields": {"user_id": user.pk, "token_id": token.pk, "prefix": token.prefix}},
    )
    return token, key


def api_token_authenticate(*, key: str) -> User | None:
    """The active user owning a valid (unrevoked, unexpired) token with this key."""
    if not key.startswith(TOKEN_PREFIX) or len(key) > 200:
        return None
    token = _matching_token(key)
    if token is None or not token.user.is_active:
        return None
    _touch(token)
    return token.user


def user_for_authorization_header(value: str) -> User | None:
    """The user of an `authorization` value "Token <key>" or "Bearer <key>", else None."""
    scheme, _, key = value.strip().partition(" ")
    if scheme.lower() not in AUTHORIZATION_SCHEMES:
        return None
    return api_token_authenticate(key=key.strip())


def _matching_token(key: str) -> ApiToken | None:
    now = timezone.now()
    candidates = (
        ApiToken.objects.select_related("user")
        .filter(prefix=key[:LOOKUP_PREFIX_LENGTH], revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )
    presented = _key_hash(key)
    for token in candidates:
        if hmac.compare_digest(token.key_hash, presented):
            return token
    return None


def _touch(token: ApiToken) -> None:
    """Record use, at most once a minute, without a read-modify-write of the row."""
    now = timezone.now()
    if token.last_used_at and now - token.last_used_at < LAST_USED_GRANULARITY:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# --- usage and quotas ----------------------------------------------------------------


def usage_reserve(*, user: User, size: int) -> None:
    """Count one more file of `size` bytes against the user's quotas, or raise
    QuotaExceeded and count nothing.

    One conditional UPDATE does check and count: the database re-evaluates its condition
    under the row's lock, so concurrent reservations never overshoot a limit.
    """
    _usage_row_ensure(user.pk)
    reserved = Usage.objects.filter(
        user_id=user.pk,
        bytes_used__lte=settings.USP.quota_bytes - size,
        files_used__lte=settings.USP.quota_files - 1,
    ).update(
        bytes_used=F("bytes_used") + size,
        files_used=F("files_used") + 1,
        updated_at=timezone.now(),
    )
    if not reserved:
        raise _quota_exceeded(user, size)
    logger.info("quota reserved", extra={"fields": {"user_id": user.pk, "bytes": size}})


def usage_charge(*, user_id: int, size: int) -> None:
    """Count a file that is already stored, whatever the limits say (its bytes exist)."""
    _usage_row_ensure(user_id)
    Usage.objects.filter(user_id=user_id).update(
        bytes_used=F("bytes_used") + size,
        files_used=F("files_used") + 1,
        updated_at=timezone.now(),
    )


def usage_release(*, user_id: int, size: int, files: int = 1) -> None:
    """Stop counting `files` files of `size` bytes; usage never goes below zero."""
    Usage.objects.filter(user_id=user_id).update(
        bytes_used=Greatest(F("bytes_used") - size, 0),
        files_used=Greatest(F("files_used") - files, 0),
        updated_at=timezone.now(),
    )
    logger.info("quota released", extra={"fields": {"user_id": user_id, "bytes": size}})


def _usage_row_ensure(user_id: int) -> None:
    if not Usage.objects.filter(user_id=user_id).exists():
        # A concurrent first reservation may insert it too; the conflict is harmless.
        Usage.objects.bulk_create([Usage(user_id=user_id)], ignore_conflicts=True)


def _quota_exceeded(user: User, size: int) -> QuotaExceeded:
    usage = Usage.objects.get(user_id=user.pk)
    if usage.files_used + 1 > settings.USP.quota_files:
        return QuotaExceeded(
            f"You have reached your quota of {settings.USP.quota_files} files; "
            "delete some to upload more."
        )
    return QuotaExceeded(
        f"This upload of {size} bytes would pass your storage quota: "
        f"{usage.bytes_used} of {settings.USP.quota_bytes} bytes are in use."
    )
