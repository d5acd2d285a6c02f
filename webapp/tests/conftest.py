"""Fixtures of the cross-cutting API tests: the real storage service in this process,
whose events the test applies itself, and a user with a token who owns a few files."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from rest_framework.test import APIClient

from usp.v1 import common_pb2
from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make
from webapp.files.tests.fixtures import *  # noqa: F403
from webapp.files.tests.in_process_storage import storage_in_process
from webapp.pages.tests.browser import base_url  # noqa: F401 - a fixture, used by name


@dataclass
class RecordingPublisher:
    """Storage's event publisher, keeping the events for the test to apply (with
    `event_apply`, the consumer's function) in its own thread and transaction."""

    envelopes: list[common_pb2.EventEnvelope] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, envelope: common_pb2.EventEnvelope) -> None:
        with self.lock:
            self.envelopes.append(envelope)

    def of(self, file_id: str, event_type: str) -> list[common_pb2.EventEnvelope]:
        with self.lock:
            return [e for e in self.envelopes if (e.file_id, e.type) == (file_id, event_type)]

    def close(self) -> None:
        return None


@dataclass
class RealStorage:
    server: Any  # storage_service.server.StorageServer
    publisher: RecordingPublisher
    root: Path  # its data directory
    blob_dir: Path

    def objects(self) -> list[Path]:
        """Every committed object on disk (not the bytes of unfinished uploads)."""
        objects = self.blob_dir / "objects"
        return sorted(path for path in objects.rglob("*") if path.is_file())

    def partials(self) -> list[tuple[str, int]]:
        """The bytes unfinished uploads hold so far: (session id, size) of each."""
        partial = self.blob_dir / "partial"
        return sorted((path.name, path.stat().st_size) for path in partial.glob("*"))


@pytest.fixture
def real_storage(settings: Any, tmp_path: Path) -> Iterator[RealStorage]:
    """The real storage service (gRPC control plane and tus data plane) on free ports;
    settings.USP points the webapp at it."""
    root = tmp_path / "storage"
    publisher = RecordingPublisher()
    with storage_in_process(settings, root, broker=StubBroker(), publisher=publisher) as server:
        yield RealStorage(server, publisher, root, server.settings.blob_dir)


@pytest.fixture
def api_client(user: User) -> APIClient:
    """A client authenticated the way programs are: with an API token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_make(user)}")
    return client
