"""Fixtures shared by every service's tests: the real RabbitMQ, PostgreSQL and Redis.

A test that needs one of them fails under CI=true when it is missing, and elsewhere
skips with the reason.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator

import pytest

from usp.namespace import delete_namespace

RABBITMQ_URL = os.environ.get("USP_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
POSTGRES_URL = os.environ.get("USP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
# Database 15: tests keep their keys under prefixes of their own and delete them.
REDIS_URL = os.environ.get("USP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Fail under CI (the service must be there), skip elsewhere, when it is missing."""
    if _reachable(host, port):
        return
    reason = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run this test")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return RABBITMQ_URL


@pytest.fixture
def broker_namespace(rabbitmq_url: str) -> Iterator[str]:
    """A namespace of queues and exchanges of this test's own, deleted afterwards."""
    namespace = f"usp-test-{uuid.uuid4().hex[:10]}"
    yield namespace
    delete_namespace(rabbitmq_url, namespace)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture
def postgres_databases(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Makes fresh, empty PostgreSQL databases for one test; all dropped afterwards."""
    import psycopg

    names: list[str] = []

    def create() -> str:
        name = f"usp_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return f"{postgres_url}/{name}"

    yield create
    with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_database(postgres_databases: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    return postgres_databases()


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL
