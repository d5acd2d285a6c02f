"""The storage service's settings, read from USP_* environment variables in one place.

Data plane (HTTP, tus 1.0.0) settings:
- USP_STORAGE_HTTP_HOST (127.0.0.1) and USP_STORAGE_HTTP_PORT (8001; 0 picks a free port);
- USP_STORAGE_PUBLIC_URL: the base of every upload_url (default http://<host>:<bound port>);
- USP_UPLOAD_SIGNING_KEYS: "kid:secret,kid2:secret2"; the first signs, all verify;
- USP_UPLOAD_EXPIRY (86400 s): how long an upload location stays valid by default;
- USP_UPLOAD_SWEEP_INTERVAL (60 s): how often abandoned sessions are expired;
- USP_CORS_ORIGINS: origins a browser may upload from ("*" allows any);
- USP_DATA_PLANE_TIMEOUT (60 s): a request body silent that long ends its connection;
- USP_MAX_UPLOAD_SIZE (5 GiB): the largest upload a session may declare (Tus-Max-Size).

gRPC: USP_GRPC_TLS_CERT, USP_GRPC_TLS_KEY and USP_GRPC_TLS_CA (PEM files, all or none)
make the control plane mutual TLS (see usp.grpc_tls).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from usp import config
from usp.grpc_tls import TlsFiles, tls_from_env

_DRIVER_PREFIXES = {
    "postgresql://": "postgresql+psycopg://",
    "postgres://": "postgresql+psycopg://",
}
# The embedded default only: a deployment sets USP_UPLOAD_SIGNING_KEYS.
DEFAULT_SIGNING_KEYS = "dev:usp-embedded-upload-signing-key"
DEFAULT_CORS_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]
DEFAULT_MAX_UPLOAD_SIZE = 5 * 1024**3


def normalize_database_url(url: str) -> str:
    """Map plain PostgreSQL URLs onto the psycopg 3 driver SQLAlchemy should use."""
    for prefix, replacement in _DRIVER_PREFIXES.items():
        if url.startswith(prefix):
            return replacement + url.removeprefix(prefix)
    return url


@dataclass(frozen=True)
class SigningKey:
    """One key of the upload URL signatures; the key id travels in the URL."""

    key_id: str
    secret: bytes = field(repr=False)


def parse_signing_keys(value: str) -> tuple[SigningKey, ...]:
    """Parse "kid:secret,kid2:secret2" (the first key signs, every key verifies)."""
    keys = []
    for item in value.split(","):
        key_id, _, secret = item.strip().partition(":")
        if not key_id or not secret:
            raise config.ConfigError(
                "USP_UPLOAD_SIGNING_KEYS must be comma-separated key_id:secret pairs"
            )
        keys.append(SigningKey(key_id, secret.encode()))
    if len({key.key_id for key in keys}) != len(keys):
        raise config.ConfigError("USP_UPLOAD_SIGNING_KEYS names a key id twice")
    return tuple(keys)


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
    http_host: str = "127.0.0.1"
    public_url: str = ""
    signing_keys: tuple[SigningKey, ...] = parse_signing_keys(DEFAULT_SIGNING_KEYS)
    upload_expiry: int = 86400
    upload_sweep_interval: float = 60.0
    cors_origins: tuple[str, ...] = tuple(DEFAULT_CORS_ORIGINS)
    data_plane_timeout: float = 60.0
    max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE
    grpc_tls: TlsFiles | None = None

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
            http_host=config.env_str("USP_STORAGE_HTTP_HOST", "127.0.0.1", environ),
            public_url=config.env_str("USP_STORAGE_PUBLIC_URL", "", environ).rstrip("/"),
            signing_keys=parse_signing_keys(
                config.env_str("USP_UPLOAD_SIGNING_KEYS", DEFAULT_SIGNING_KEYS, environ)
            ),
            upload_expiry=config.env_int("USP_UPLOAD_EXPIRY", 86400, environ),
            upload_sweep_interval=config.env_float("USP_UPLOAD_SWEEP_INTERVAL", 60.0, environ),
            cors_origins=tuple(config.env_list("USP_CORS_ORIGINS", DEFAULT_CORS_ORIGINS, environ)),
            data_plane_timeout=config.env_float("USP_DATA_PLANE_TIMEOUT", 60.0, environ),
            max_upload_size=config.env_int("USP_MAX_UPLOAD_SIZE", DEFAULT_MAX_UPLOAD_SIZE, environ),
            grpc_tls=tls_from_env(environ),
        )

    @property
    def grpc_address(self) -> str:
        return f"{_bracketed(self.grpc_host)}:{self.grpc_port}"

    def public_base_url(self, bound_http_port: int) -> str:
        """Where clients reach the data plane: USP_STORAGE_PUBLIC_URL or the bound address."""
        if self.public_url:
            return self.public_url
        host = self.http_host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
            host = "127.0.0.1"
        return f"http://{_bracketed(host)}:{bound_http_port}"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
