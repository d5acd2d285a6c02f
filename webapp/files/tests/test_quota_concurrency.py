"""Concurrent intents against one quota: exactly as many succeed as fit.

The same test runs on the test database of this run (SQLite by default) and, in a
child pytest pointed at a fresh PostgreSQL database, on PostgreSQL, where the
conditional UPDATE has to hold under real row-level concurrency.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from webapp.accounts.models import Usage, User
from webapp.accounts.tests.factories import token_make
from webapp.files.models import File, FileState
from webapp.files.tests.fake_storage import FakeStorageServer

ROOT = Path(__file__).resolve().parents[3]
MIB = 1024 * 1024
PARALLEL = 20
EXPECTED_VENDOR = "USP_TEST_EXPECTED_DATABASE_VENDOR"


@pytest.mark.django_db(transaction=True)
def test_concurrent_intents_never_overshoot_the_quota(
    user: User, fake_storage: FakeStorageServer, usp_settings: Callable[..., None]
) -> None:
    if os.environ.get(EXPECTED_VENDOR):
        assert connection.vendor == os.environ[EXPECTED_VENDOR]
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
    test = f"{Path(__file__).relative_to(ROOT)}::test_concurrent_intents_never_overshoot_the_quota"
    environ = {
        **os.environ,
        "USP_DATABASE_URL": postgres_database,
        EXPECTED_VENDOR: "postgresql",
    }

    result = subprocess.run(
        [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "1 passed" in result.stdout
