from __future__ import annotations

import dataclasses
import socket
import time
from typing import Any

import pytest
from django.test import Client

from webapp.files.tests.fake_storage import FakeStorageServer

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_without_checking_anything(storage_down: str) -> None:
    response = Client().get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_200_when_database_storage_and_broker_answer(
    fake_storage: FakeStorageServer,
) -> None:
    response = Client().get("/readyz")

    assert (response.status_code, response.json()) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "storage": "ok", "broker": "ok"}},
    )


def test_readyz_is_503_naming_storage_when_it_is_down(storage_down: str) -> None:
    response = Client().get("/readyz")

    assert (response.status_code, response.json()) == (
        503,
        {
            "status": "not_ready",
            "checks": {"database": "ok", "storage": "not serving", "broker": "ok"},
        },
    )


def test_readyz_is_503_when_storage_reports_not_serving(fake_storage: FakeStorageServer) -> None:
    fake_storage.set_serving(False)

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "not serving"


def test_readyz_is_503_naming_the_broker_when_it_is_unreachable_and_answers_quickly(
    fake_storage: FakeStorageServer, settings: Any
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.USP = dataclasses.replace(
        settings.USP, broker_url=f"amqp://guest:guest@127.0.0.1:{port}//"
    )
    started = time.monotonic()

    response = Client().get("/readyz")

    assert time.monotonic() - started < 5
    assert (response.status_code, response.json()) == (
        503,
        {
            "status": "not_ready",
            "checks": {
                "database": "ok",
                "storage": "ok",
                "broker": "unavailable (OperationalError)",
            },
        },
    )


@pytest.mark.rabbitmq
def test_readyz_checks_a_real_broker(
    fake_storage: FakeStorageServer, settings: Any, rabbitmq_url: str
) -> None:
    settings.USP = dataclasses.replace(settings.USP, broker_url=rabbitmq_url)

    response = Client().get("/readyz")

    assert (response.status_code, response.json()["checks"]["broker"]) == (200, "ok")
