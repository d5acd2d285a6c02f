"""Running a test of this run's database (SQLite by default) once more on PostgreSQL: in
a child pytest whose webapp database is a fresh PostgreSQL one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
EXPECTED_VENDOR = "USP_TEST_EXPECTED_DATABASE_VENDOR"


def check_vendor() -> None:
    """In the child run, make sure the test really is on the database it was sent to."""
    if os.environ.get(EXPECTED_VENDOR):
        assert connection.vendor == os.environ[EXPECTED_VENDOR]


def run_on_postgresql(test_file: str, test_name: str, database_url: str) -> None:
    """Run `test_file::test_name` in a child pytest on `database_url`; it must pass."""
    test = f"{Path(test_file).resolve().relative_to(ROOT)}::{test_name}"
    environ = {**os.environ, "USP_DATABASE_URL": database_url, EXPECTED_VENDOR: "postgresql"}
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
