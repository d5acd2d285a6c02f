"""The storage service's settings, read from USP_* environment variables in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from usp import config

_DRIVER_PREFIXES = {
    "postgresql://": "postgresql+psycopg://",
    "postgres://": "postgresql+psycopg://",
}


def normalize_database_url(url: str) -> str:
    """Map plain PostgreSQL URLs onto the psycopg 3 driver SQLAlchemy should use."""
    for prefix, replacement in _DRIVER_PREFIXES.items():
        if url.startswith(prefix):
            return replacement + url.removeprefix(prefix)
    return url


@dataclass(frozen=True)
class Settings:
    grpc_host: str
    grpc_port: int
    http_port: int
    data_dir: Path
    database_url: str
    blob_dir: Path
    service_token: str
    broker_url: str
    namespace: str
    outbox_poll_interval: float
    grace_period: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        data_dir = config.data_dir(environ)
        default_db = config.sqlite_url(data_dir / "storage.sqlite3")
        return cls(
            grpc_host=config.env_str("USP_STORAGE_GRPC_HOST", "127.0.0.1", environ),
            grpc_port=config.env_int("USP_STORAGE_GRPC_PORT", 50052, environ),
            http_port=config.env_int("USP_STORAGE_HTTP_PORT", 8001, environ),
            data_dir=data_dir,
            database_url=normalize_database_url(
                config.env_str("USP_STORAGE_DATABASE_URL", default_db, environ)
            ),
            blob_dir=data_dir / "blobs",
            service_token=config.service_token(environ),
            broker_url=config.broker_url(environ),
            namespace=config.broker_namespace(environ),
            outbox_poll_interval=config.env_float("USP_STORAGE_OUTBOX_POLL_INTERVAL", 0.5, environ),
            grace_period=config.env_float("USP_GRACE_PERIOD", 10.0, environ),
        )

    @property
    def grpc_address(self) -> str:
        host = f"[{self.grpc_host}]" if ":" in self.grpc_host else self.grpc_host
        return f"{host}:{self.grpc_port}"
