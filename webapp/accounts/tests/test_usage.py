from __future__ import annotations

from collections.abc import Callable

import pytest

from webapp.accounts.models import Usage, User
from webapp.accounts.selectors import UsageReport, usage_get
from webapp.accounts.services import usage_charge, usage_release, usage_reserve
from webapp.core.errors import QuotaExceeded

pytestmark = pytest.mark.django_db


def counts(user: User) -> tuple[int, int]:
    usage = Usage.objects.get(user=user)
    return (usage.bytes_used, usage.files_used)


def test_reserve_counts_bytes_and_one_file_up_to_the_limits(
    user: User, usp_settings: Callable[..., None]
) -> None:
    usp_settings(quota_bytes=100, quota_files=3)

    usage_reserve(user=user, size=60)
    usage_reserve(user=user, size=40)

    assert counts(user) == (100, 2)
    with pytest.raises(QuotaExceeded):
        usage_reserve(user=user, size=1)
    usage_reserve(user=user, size=0)
    with pytest.raises(QuotaExceeded, match="quota of 3 files"):
        usage_reserve(user=user, size=0)
    assert counts(user) == (100, 3)


def test_release_never_goes_below_zero(user: User) -> None:
    usage_reserve(user=user, size=5)

    usage_release(user_id=user.pk, size=50)
    usage_release(user_id=user.pk, size=50)

    assert counts(user) == (0, 0)


def test_charge_counts_past_the_limits(user: User, usp_settings: Callable[..., None]) -> None:
    usp_settings(quota_bytes=10, quota_files=1)

    usage_charge(user_id=user.pk, size=25)
    usage_charge(user_id=user.pk, size=25)

    assert counts(user) == (50, 2)


def test_usage_get_reports_usage_and_limits(
    user: User, other_user: User, usp_settings: Callable[..., None]
) -> None:
    usp_settings(quota_bytes=1000, quota_files=9)
    usage_reserve(user=user, size=7)
    usage_reserve(user=other_user, size=300)

    assert usage_get(user=user) == UsageReport(
        bytes_used=7, bytes_limit=1000, files_used=1, files_limit=9
    )
