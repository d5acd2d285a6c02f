"""Reads about accounts: what a user's files take from their quotas."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from webapp.accounts.models import Usage, User


@dataclass(frozen=True)
class UsageReport:
    bytes_used: int
    bytes_limit: int
    files_used: int
    files_limit: int


def usage_get(*, user: User) -> UsageReport:
    """The user's usage (reserved uploads included) and their limits."""
    usage = Usage.objects.filter(user_id=user.pk).first() or Usage(user_id=user.pk)
    return UsageReport(
        bytes_used=usage.bytes_used,
        bytes_limit=settings.USP.quota_bytes,
        files_used=usage.files_used,
        files_limit=settings.USP.quota_files,
    )
