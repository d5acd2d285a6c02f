"""Password guessing and mail flooding are limited (allauth's ACCOUNT_RATE_LIMITS, counted
in the cache): per account, per client address, and across processes with Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail

from webapp.accounts.tests.browsing import (
    browser,
    sign_in,
    signed_in_user_id,
    submit,
    verified_user_make,
)
from webapp.config.settings.base import cache_settings

pytestmark = pytest.mark.django_db

PASSWORD = "the-Right-password-7"
TOO_MANY = "Too many failed login attempts. Try again later."
FAILURES_ALLOWED = 5  # "5/5m/key"


def fail_to_sign_in(email: str, times: int) -> list[int]:
    return [sign_in(browser(), email, "a-wrong-guess").status_code for _ in range(times)]


def test_after_five_failed_sign_ins_even_the_right_password_is_refused() -> None:
    verified_user_make("ida@example.com", PASSWORD)

    failures = fail_to_sign_in("ida@example.com", FAILURES_ALLOWED)
    client = browser()
    refused = sign_in(client, "ida@example.com", PASSWORD)

    assert failures == [200] * FAILURES_ALLOWED
    assert refused.status_code == 200
    assert TOO_MANY in refused.content.decode()
    assert signed_in_user_id(client) is None


def test_the_limit_of_one_account_leaves_other_accounts_alone() -> None:
    verified_user_make("ida@example.com", PASSWORD)
    jon = verified_user_make("jon@example.com", PASSWORD)
    fail_to_sign_in("ida@example.com", FAILURES_ALLOWED + 1)

    client = browser()
    signed_in = sign_in(client, "jon@example.com", PASSWORD)

    assert (signed_in.status_code, signed_in["Location"]) == (302, "/")
    assert signed_in_user_id(client) == str(jon.pk)


def test_fewer_failures_than_the_limit_do_not_lock_the_account() -> None:
    ida = verified_user_make("ida@example.com", PASSWORD)
    fail_to_sign_in("ida@example.com", FAILURES_ALLOWED - 1)

    client = browser()
    sign_in(client, "ida@example.com", PASSWORD)

    assert signed_in_user_id(client) == str(ida.pk)


def test_one_client_address_guessing_many_accounts_is_limited_too() -> None:
    """10 failures a minute per address ("10/m/ip"), whichever accounts they name."""
    for number in range(10):
        fail_to_sign_in(f"nobody{number}@example.com", 1)
    verified_user_make("ida@example.com", PASSWORD)

    same_address, other_address = browser(), browser()
    refused = sign_in(same_address, "ida@example.com", PASSWORD)
    other_address.defaults["REMOTE_ADDR"] = "192.0.2.10"
    sign_in(other_address, "ida@example.com", PASSWORD)

    assert TOO_MANY in refused.content.decode()
    assert (signed_in_user_id(same_address), signed_in_user_id(other_address) is not None) == (
        None,
        True,
    )


def request_reset(email: str) -> Any:
    return submit(browser(), "/accounts/password/reset/", {"email": email})


def test_password_reset_mails_for_one_address_are_limited_with_a_429_page() -> None:
    verified_user_make("ida@example.com", PASSWORD)
    verified_user_make("jon@example.com", PASSWORD)

    allowed = [request_reset("ida@example.com").status_code for _ in range(5)]
    refused = request_reset("ida@example.com")
    other = request_reset("jon@example.com")

    html = refused.content.decode()
    assert allowed == [302] * 5
    assert refused.status_code == 429
    assert '<a class="brand" href="/">upload-store-process</a>' in html
    assert "<h1>Too many requests</h1>" in html
    assert other.status_code == 302
    assert [message.to for message in mail.outbox] == [["ida@example.com"]] * 5 + [
        ["jon@example.com"]
    ]


@pytest.fixture
def redis_cache(redis_url: str, settings: Any) -> Iterator[str]:
    """The settings' cache on the real Redis (as USP_CACHE_URL would make it), under a key
    prefix of this test's own, whose keys are deleted afterwards."""
    import redis

    prefix = f"usp-test-{uuid.uuid4().hex[:10]}"
    caches = cache_settings(redis_url)
    caches["default"]["KEY_PREFIX"] = prefix
    settings.CACHES = caches
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_with_redis_the_failed_sign_ins_are_counted_in_redis(
    redis_cache: str, redis_url: str
) -> None:
    import redis

    verified_user_make("ida@example.com", PASSWORD)
    fail_to_sign_in("ida@example.com", FAILURES_ALLOWED)

    refused = sign_in(browser(), "ida@example.com", PASSWORD)

    client = redis.Redis.from_url(redis_url)
    keys = [key.decode() for key in client.scan_iter(f"{redis_cache}:*")]
    client.close()
    assert TOO_MANY in refused.content.decode()
    assert any("login_failed" in key for key in keys), keys
