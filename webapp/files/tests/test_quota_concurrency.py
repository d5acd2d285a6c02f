"""Concurrent intents against one quota: exactly as many succeed as fit.

The same test runs on the test database of this run (SQLite by default) and, in a
child pytest pointed at a fresh PostgreSQL database, on PostgreSQL, where the
conditional UPDATE has to hold under real row-level concurrency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from webapp.accounts.models import Usage, User
from webapp.accounts.tests.factories import token_make
from webapp.core.tests.on_postgresql import check_vendor, run_on_postgresql
from webapp.files.models import File, FileState
from webapp.files.tests.fake_storage import FakeStorageServer

MIB = 1024 * 1024
PARALLEL = 20


@pytest.mark.django_db(transaction=True)
def test_concurrent_intents_never_overshoot_the_quota(
    user: User, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    check_vendor()
    usp_settings(quota_bytes=10 * MIB)
    key = token_make(user)
    start = threading.Barrier(PARALLEL)

    def announce(number: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait(timeout=30)
            body = {"name": f"{number}.bin", "size": MIB}
            return client.post("/api/v1/uploads/", body, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        statuses = list(pool.map(announce, range(PARALLEL)))

    usage = Usage.objects.get(user=user)
    assert sorted(statuses) == [201] * 10 + [413] * 10
    assert (usage.bytes_used, usage.files_used) == (10 * MIB, 10)
    assert File.objects.filter(owner=user, state=FileState.AWAITING_UPLOAD).count() == 10
    assert len(fake_storage.storage.sessions) == 10


@pytest.mark.postgres
def test_concurrent_intents_never_overshoot_the_quota_on_postgresql(
    postgres_database: str,
) -> None:
    run_on_postgresql(
        __file__, "test_concurrent_intents_never_overshoot_the_quota", postgres_database
    )
