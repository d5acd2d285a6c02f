"""Pytest fixtures for tests that talk to storage: a fake one on a real gRPC server.

Import them into a conftest: `from webapp.files.tests.fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from webapp.files.tests.fake_storage import FakeStorageServer, start_fake_storage

__all__ = ["fake_storage", "storage_down", "usp_settings"]


@pytest.fixture
def fake_storage(settings: Any) -> Iterator[FakeStorageServer]:
    """A running fake storage service; settings.USP points at it."""
    running = start_fake_storage(settings.USP.service_token)
    settings.USP = dataclasses.replace(settings.USP, storage_grpc_target=running.target)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def storage_down(settings: Any) -> str:
    """settings.USP points at a port nothing listens on; returns that target."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = f"127.0.0.1:{port}"
    settings.USP = dataclasses.replace(settings.USP, storage_grpc_target=target)
    return target


@pytest.fixture
def usp_settings(settings: Any) -> Callable[..., None]:
    """Changes fields of settings.USP for one test: `usp_settings(quota_files=2)`."""

    def change(**fields: Any) -> None:
        settings.USP = dataclasses.replace(settings.USP, **fields)

    return change
