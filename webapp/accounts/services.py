"""API tokens: creation, and authentication of a presented key."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from webapp.accounts.models import ApiToken, User
from webapp.core.errors import InvalidInput

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
