from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from usp.cli.tests.fakes import FakeHttpApi, serve_http


@pytest.fixture(autouse=True)
def cli_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every CLI test gets its own config file and no USP_* settings from outside."""
    for name in ("USP_URL", "USP_TOKEN", "USP_GRPC_API", "USP_CA"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config" / "usp.json"
    monkeypatch.setenv("USP_CONFIG", str(path))
    return path


@pytest.fixture
def http_api() -> Iterator[FakeHttpApi]:
    yield from serve_http(FakeHttpApi())
