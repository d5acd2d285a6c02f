"""The processor reaches storage over mutual TLS when USP_GRPC_TLS_* are set."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from processor_service.settings import Settings
from processor_service.tests.conftest import TOKEN
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage, start_fake_storage
from processor_service.tests.harness import Harness
from processor_service.tests.images import png
from tests.pki import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_storage(pki: Pki) -> Iterator[tuple[str, FakeStorage]]:
    server, target, fake = start_fake_storage(TOKEN, tls=pki.service)
    yield target, fake
    server.stop(grace=None)


def test_settings_read_the_tls_files(pki: Pki) -> None:
    assert Settings.from_env(pki.env()).grpc_tls == pki.service
    assert Settings.from_env({}).grpc_tls is None


def test_a_job_reads_and_stores_through_a_mutual_tls_storage(
    settings: Settings, tls_storage: tuple[str, FakeStorage], pki: Pki, event_tap: EventTap
) -> None:
    target, fake = tls_storage
    tls_settings = dataclasses.replace(settings, storage_target=target, grpc_tls=pki.service)
    with Harness(tls_settings) as harness:
        job_id = harness.process("image.thumbnail", fake.put(png(64, 48)))

    assert [(e.type, e.job_id) for e in event_tap.drain()] == [
        ("job.started", job_id),
        ("job.succeeded", job_id),
    ]
    assert [d.kind for d in fake.derivatives] == ["thumbnail-256", "thumbnail-1024"]


def test_without_the_certificate_the_processor_cannot_reach_it(
    settings: Settings, tls_storage: tuple[str, FakeStorage], event_tap: EventTap
) -> None:
    target, fake = tls_storage
    plaintext = dataclasses.replace(settings, storage_target=target, max_retries=0)
    with Harness(plaintext) as harness:
        job_id = harness.process("image.thumbnail", fake.put(png(64, 48)))

    assert [(e.type, e.job_id) for e in event_tap.drain()] == [
        ("job.started", job_id),
        ("job.failed", job_id),
    ]
    assert fake.derivatives == []
