"""Typed parsing of USP_* environment variables, the one way every service reads them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class ConfigError(ValueError):
    """An environment variable is missing or malformed."""


def _raw(environ: Mapping[str, str] | None, name: str) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    return value if value not in (None, "") else None


def env_str(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    value = _raw(environ, name)
    return default if value is None else value


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    value = _raw(environ, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from exc


def env_float(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    value = _raw(environ, name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(environ, name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def env_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(environ, name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def usable_cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no CPU affinity on this platform
        return os.cpu_count() or 1


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """USP_DATA_DIR: where the embedded default keeps databases and blobs."""
    return Path(env_str("USP_DATA_DIR", "./var", environ)).resolve()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


DEFAULT_SERVICE_TOKEN = "usp-embedded-service-token"  # noqa: S105 - embedded default only


def service_token(environ: Mapping[str, str] | None = None) -> str:
    """USP_SERVICE_TOKEN: the credential every service-to-service call carries."""
    return env_str("USP_SERVICE_TOKEN", DEFAULT_SERVICE_TOKEN, environ)


def broker_url(environ: Mapping[str, str] | None = None) -> str:
    """USP_BROKER_URL: empty for the in-memory embedded brokers, amqp://… for RabbitMQ."""
    return env_str("USP_BROKER_URL", "", environ)


def broker_namespace(environ: Mapping[str, str] | None = None) -> str:
    """USP_BROKER_NAMESPACE: prefix of every queue and exchange name."""
    return env_str("USP_BROKER_NAMESPACE", "usp", environ)
