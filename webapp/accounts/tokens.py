"""API token reads and the expiry choices shared by the account page and the REST API."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from webapp.accounts.models import ApiToken, User
from webapp.core.errors import InvalidInput, NotFound

EXPIRY_DAYS = (30, 90, 365)


def token_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first."""
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")


def token_get(*, user: User, token_id: int | str) -> ApiToken:
    """One of the user's tokens; another user's (or none) is NotFound."""
    try:
        return token_list(user=user).get(pk=int(token_id))
    except (ValueError, ApiToken.DoesNotExist) as exc:
        raise NotFound("No such token.") from exc


def token_state(token: ApiToken, *, now: datetime | None = None) -> str:
    """ "revoked", "expired" or "active"."""
    now = now or timezone.now()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def expiry_from_days(days: int | None) -> datetime | None:
    """The expiry of a token made now that lives `days` days (None: never expires)."""
    if days is None:
        return None
    if days not in EXPIRY_DAYS:
        raise InvalidInput(
            "A token expires after 30, 90 or 365 days, or never.", code="invalid_expiry"
        )
    return timezone.now() + timedelta(days=days)
