"""Per-user request rates of the REST API: uploads (intents and multipart) and everything
else, 429 with Retry-After and the project's error body past the rate."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make, user_make
from webapp.config.env import Rate, load_env
from webapp.config.settings.base import cache_settings
from webapp.core.tests.django_process import run_django
from webapp.core.throttling import API, UPLOADS, throttle_wait
from webapp.files.models import File
from webapp.files.tests.fake_storage import FakeStorageServer

pytestmark = pytest.mark.django_db


DAY = 86_400
# Windows of a day: a test never straddles two of them (unless run at midnight UTC).
TWO_A_DAY = Rate(requests=2, seconds=DAY)


@pytest.fixture
def rates(settings: Any) -> Callable[..., None]:
    def set_rates(*, uploads: Rate | None = None, api: Rate | None = None) -> None:
        settings.USP = dataclasses.replace(settings.USP, throttle_uploads=uploads, throttle_api=api)

    return set_rates


def token_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_make(user)}")
    return client


def intent(client: APIClient, name: str = "a.txt") -> Any:
    return client.post("/api/v1/uploads/", {"name": name, "size": 5}, format="json")


def multipart(client: APIClient, name: str = "b.txt") -> Any:
    payload = {"file": SimpleUploadedFile(name, b"hello")}
    return client.post("/api/v1/files/", payload, format="multipart")


def assert_throttled(response: Any) -> int:
    """The 429 with the project's error body; returns its Retry-After seconds."""
    retry_after = int(response["Retry-After"])
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "code": "throttled",
            "message": f"Request was throttled. Expected available in {retry_after} seconds.",
        }
    }
    assert 1 <= retry_after <= DAY
    return retry_after


def test_upload_intents_past_the_rate_get_429_and_store_nothing(
    rates: Callable[..., None], fake_storage: FakeStorageServer
) -> None:
    rates(uploads=TWO_A_DAY)
    client = token_client(user_make())

    allowed = [intent(client, f"{n}.txt").status_code for n in range(2)]
    refused = intent(client, "third.txt")

    assert allowed == [201, 201]
    assert_throttled(refused)
    assert sorted(File.objects.values_list("name", flat=True)) == ["0.txt", "1.txt"]
    assert len(fake_storage.storage.sessions) == 2


def test_multipart_uploads_and_intents_share_the_upload_rate(
    rates: Callable[..., None], fake_storage: FakeStorageServer
) -> None:
    rates(uploads=TWO_A_DAY)
    client = token_client(user_make())

    statuses = [intent(client).status_code, multipart(client).status_code]
    refused = multipart(client, "c.txt")

    assert statuses == [201, 201]
    assert_throttled(refused)
    assert File.objects.filter(name="c.txt").exists() is False


def test_a_user_at_the_upload_rate_can_still_read_the_api(
    rates: Callable[..., None], fake_storage: FakeStorageServer
) -> None:
    rates(uploads=Rate(requests=1, seconds=DAY), api=TWO_A_DAY)
    client = token_client(user_make())
    intent(client)
    assert_throttled(intent(client))

    reads = [client.get("/api/v1/files/").status_code for _ in range(2)]

    assert reads == [200, 200]
    assert_throttled(client.get("/api/v1/files/"))


def test_the_rate_is_per_user_whatever_the_credential(rates: Callable[..., None]) -> None:
    rates(api=TWO_A_DAY)
    user, other = user_make(), user_make()
    session = APIClient()
    session.force_login(user)

    statuses = [
        token_client(user).get("/api/v1/files/").status_code,
        session.get("/api/v1/files/").status_code,
    ]
    refused = token_client(user).get("/api/v1/files/")
    others = token_client(other).get("/api/v1/files/")

    assert statuses == [200, 200]
    assert_throttled(refused)
    assert others.status_code == 200


def test_anonymous_requests_are_counted_per_client_address(rates: Callable[..., None]) -> None:
    rates(api=TWO_A_DAY)
    here, there = APIClient(REMOTE_ADDR="192.0.2.1"), APIClient(REMOTE_ADDR="192.0.2.2")

    allowed = [here.get("/api/v1/").status_code for _ in range(2)]
    refused = here.get("/api/v1/", HTTP_X_FORWARDED_FOR="203.0.113.9")
    elsewhere = there.get("/api/v1/")

    assert allowed == [200, 200]
    assert_throttled(refused)
    assert elsewhere.status_code == 200


def test_no_rate_means_no_limit(rates: Callable[..., None]) -> None:
    rates(uploads=None, api=None)
    client = token_client(user_make())

    statuses = {client.get("/api/v1/files/").status_code for _ in range(30)}

    assert statuses == {200}


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        ("10/s", Rate(requests=10, seconds=1)),
        ("120/min", Rate(requests=120, seconds=60)),
        (" 90 / Minute ", Rate(requests=90, seconds=60)),
        ("1000/hour", Rate(requests=1000, seconds=3600)),
        ("5/day", Rate(requests=5, seconds=DAY)),
        ("0", None),
        ("", None),
    ],
)
def test_rates_are_requests_per_period_and_zero_or_empty_means_no_limit(
    value: str, rate: Rate | None
) -> None:
    env = load_env({"USP_THROTTLE_UPLOADS": value, "USP_THROTTLE_API": value})

    assert (env.throttle_uploads, env.throttle_api) == (rate, rate)


@pytest.mark.parametrize(
    ("now", "retry_after"),
    [(DAY * 10 + 0.5, DAY), (DAY * 10 + DAY - 30.2, 31), (DAY * 11 - 0.001, 1)],
)
def test_retry_after_is_the_whole_seconds_left_in_the_window(
    rates: Callable[..., None], now: float, retry_after: int
) -> None:
    rates(api=Rate(requests=1, seconds=DAY))

    first = throttle_wait(scope=API, caller="user:1", now=now)
    second = throttle_wait(scope=API, caller="user:1", now=now)

    assert (first, second) == (None, retry_after)


def test_a_new_window_allows_requests_again(rates: Callable[..., None]) -> None:
    rates(uploads=Rate(requests=1, seconds=60))
    start = 6000.0

    waits = [
        throttle_wait(scope=UPLOADS, caller="user:1", now=start),
        throttle_wait(scope=UPLOADS, caller="user:1", now=start + 59),
        throttle_wait(scope=UPLOADS, caller="user:1", now=start + 60),
    ]

    assert waits == [None, 1, None]


def test_with_redis_every_webapp_process_counts_against_the_same_rate(
    rates: Callable[..., None], settings: Any, redis_url: str, tmp_path: Path
) -> None:
    import redis

    rates(api=TWO_A_DAY)
    settings.CACHES = cache_settings(redis_url)
    caller = f"user:test-{uuid.uuid4().hex}"
    code = (
        "from webapp.core.throttling import throttle_wait; "
        f"print(throttle_wait(scope='api', caller='{caller}'))"
    )
    try:
        here = [throttle_wait(scope=API, caller=caller) for _ in range(2)]
        other_process = run_django(
            "webapp.config.settings.local",
            "shell",
            "-c",
            code,
            USP_DATA_DIR=str(tmp_path),
            USP_CACHE_URL=redis_url,
            USP_THROTTLE_API="2/day",
        )
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"usp:*:{caller}:*"))
        if keys:
            client.delete(*keys)
        client.close()

    assert other_process.returncode == 0, other_process.stderr
    assert here == [None, None]
    assert 1 <= int(other_process.stdout.strip().splitlines()[-1]) <= DAY
    assert len(keys) == 1
