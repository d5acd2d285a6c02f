from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from processor_service.settings import Settings
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage, start_fake_storage
from processor_service.tests.harness import Harness

TOKEN = "processor-test-token"


@pytest.fixture
def storage_server() -> Iterator[tuple[str, FakeStorage]]:
    server, target, fake = start_fake_storage(TOKEN)
    yield target, fake
    server.stop(grace=None)


@pytest.fixture
def fake_storage(storage_server: tuple[str, FakeStorage]) -> FakeStorage:
    return storage_server[1]


@pytest.fixture
def namespace() -> str:
    return f"proc-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(storage_server: tuple[str, FakeStorage], namespace: str) -> Settings:
    """Embedded brokers, the fake storage, backoffs short enough for tests, and every
    job's start reported at once."""
    return Settings(
        storage_target=storage_server[0],
        service_token=TOKEN,
        broker_url="",
        namespace=namespace,
        worker_threads=2,
        max_retries=3,
        min_backoff_ms=10,
        max_backoff_ms=50,
        step_time_limit_ms=20_000,
        job_started_delay_ms=0,
    )


@pytest.fixture
def event_tap(settings: Settings) -> Iterator[EventTap]:
    tap = EventTap(settings.broker_url, settings.namespace)
    yield tap
    tap.close()


@pytest.fixture
def harness(settings: Settings) -> Iterator[Harness]:
    with Harness(settings) as harness:
        yield harness
