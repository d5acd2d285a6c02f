"""The system under measurement, started the way the end-to-end tests start it: separate
supervised processes on this machine's RabbitMQ (SQLite in the data directory), or the
embedded single process when RabbitMQ is not reachable."""

from __future__ import annotations

import secrets
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpu import local_broker
from tests.e2e.system import (
    RunningSystem,
    child_pids,
    create_user_with_token,
    running_system,
    system_env,
)
from usp.namespace import delete_namespace

RABBITMQ_HOST = "127.0.0.1"
RABBITMQ_PORT = 5672
RABBITMQ_URL = f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/%2F"
# How each supervised child is recognised by its command line.
SERVICE_MARKERS = (
    ("storage", "storage_service"),
    ("processor", "processor_service"),
    ("webapp", "serve"),
    ("events", "consume_events"),
)
GIB = 1024**3
# Measured as deployed: production settings (no DEBUG query log or debug pages), plain
# HTTP on the loopback interface, as behind a TLS-terminating proxy.
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "webapp.config.settings.production",
    "USP_SECRET_KEY": secrets.token_urlsafe(50),
    "USP_SECURE_SSL_REDIRECT": "false",
}


@dataclass
class BenchSystem:
    running: RunningSystem
    mode: str
    token: str
    services: dict[str, int]
    # The broker's process when the system runs on RabbitMQ on this machine.
    broker: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def cpu_processes(self) -> dict[str, int]:
        """Whose CPU time the system's work costs: its services and its broker."""
        return {**self.services, **self.broker}


def rabbitmq_reachable() -> bool:
    try:
        with socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def started(data_dir: Path, *, max_upload: int) -> Iterator[BenchSystem]:
    """The system on free ports with its data under `data_dir`, a user and a token."""
    limits = {
        **PRODUCTION,
        "USP_MAX_UPLOAD_SIZE": str(max_upload),
        "USP_QUOTA_BYTES": str(1024 * GIB),
        "USP_QUOTA_FILES": str(10_000_000),
        # The benchmarks measure the system's rate, not the per-user limits.
        "USP_THROTTLE_UPLOADS": "0",
        "USP_THROTTLE_API": "0",
    }
    if rabbitmq_reachable():
        namespace = f"usp-bench-{uuid.uuid4().hex[:10]}"
        env = system_env(
            data_dir, USP_BROKER_URL=RABBITMQ_URL, USP_BROKER_NAMESPACE=namespace, **limits
        )
        mode = f"separate processes (python -m usp.run --processes), RabbitMQ, SQLite; {namespace}"
        try:
            with running_system(env, "--processes") as running:
                services = _services(running.process.pid)
                yield _ready(running, env, mode, services, broker=local_broker())
        finally:
            delete_namespace(RABBITMQ_URL, namespace)
        return
    env = system_env(data_dir, **limits)
    mode = "embedded single process (python -m usp.run): RabbitMQ is not reachable"
    with running_system(env) as running:
        yield _ready(running, env, mode, {"embedded": running.process.pid})


def _ready(
    running: RunningSystem,
    env: dict[str, str],
    mode: str,
    pids: dict[str, int],
    *,
    broker: dict[str, int] | None = None,
) -> BenchSystem:
    token = create_user_with_token(env, "bench")
    return BenchSystem(running=running, mode=mode, token=token, services=pids, broker=broker or {})


def _services(supervisor: int) -> dict[str, int]:
    """The supervisor's children by service name."""
    services: dict[str, int] = {}
    for pid in child_pids(supervisor):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        words = [word.decode(errors="replace") for word in command if word]
        for name, marker in SERVICE_MARKERS:
            if marker in words:
                services[name] = pid
                break
    missing = {name for name, _marker in SERVICE_MARKERS} - set(services)
    if missing:
        raise RuntimeError(f"service processes not found: {', '.join(sorted(missing))}")
    return services
