"""The webapp's environment, parsed once into a frozen dataclass.

This is the only module that reads the webapp's USP_* variables; the settings modules
expose the result as `settings.USP`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from usp import config

EMAIL_VERIFICATION_CHOICES = ("mandatory", "optional", "none")


@dataclass(frozen=True)
class WebappEnv:
    data_dir: Path
    database_url: str
    secret_key: str
    allowed_hosts: tuple[str, ...]
    storage_grpc_target: str
    service_token: str
    broker_url: str
    broker_namespace: str
    web_host: str
    web_port: int
    api_grpc_host: str
    api_grpc_port: int
    account_email_verification: str
    public_url: str


def load_env(environ: Mapping[str, str] | None = None) -> WebappEnv:
    """Read every USP_* variable the webapp uses; raises ConfigError on bad values."""
    data_dir = config.data_dir(environ)
    storage_port = config.env_int("USP_STORAGE_GRPC_PORT", 50052, environ)
    return WebappEnv(
        data_dir=data_dir,
        database_url=config.env_str(
            "USP_DATABASE_URL", config.sqlite_url(data_dir / "webapp.sqlite3"), environ
        ),
        secret_key=config.env_str("USP_SECRET_KEY", "", environ),
        allowed_hosts=tuple(
            config.env_list("USP_ALLOWED_HOSTS", ["127.0.0.1", "localhost"], environ)
        ),
        storage_grpc_target=config.env_str(
            "USP_STORAGE_GRPC_TARGET", f"127.0.0.1:{storage_port}", environ
        ),
        service_token=config.service_token(environ),
        broker_url=config.broker_url(environ),
        broker_namespace=config.broker_namespace(environ),
        web_host=config.env_str("USP_WEB_HOST", "127.0.0.1", environ),
        web_port=config.env_int("USP_WEB_PORT", 8000, environ),
        api_grpc_host=config.env_str("USP_API_GRPC_HOST", "127.0.0.1", environ),
        api_grpc_port=config.env_int("USP_API_GRPC_PORT", 50051, environ),
        account_email_verification=_email_verification(environ),
        public_url=_public_url(environ),
    )


def _email_verification(environ: Mapping[str, str] | None) -> str:
    value = config.env_str("USP_ACCOUNT_EMAIL_VERIFICATION", "mandatory", environ).lower()
    if value not in EMAIL_VERIFICATION_CHOICES:
        choices = ", ".join(EMAIL_VERIFICATION_CHOICES)
        raise config.ConfigError(f"USP_ACCOUNT_EMAIL_VERIFICATION must be one of {choices}")
    return value


def _public_url(environ: Mapping[str, str] | None) -> str:
    value = config.env_str("USP_PUBLIC_URL", "", environ).rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise config.ConfigError("USP_PUBLIC_URL must start with http:// or https://")
    return value
