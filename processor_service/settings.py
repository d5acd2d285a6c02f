"""The processor's settings, read from USP_* environment variables in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from usp import config

THUMBNAIL_FORMATS = ("WEBP", "JPEG")


@dataclass(frozen=True)
class Settings:
    storage_target: str = "127.0.0.1:50052"
    service_token: str = config.DEFAULT_SERVICE_TOKEN
    broker_url: str = ""
    namespace: str = "usp"
    worker_threads: int = 4
    thumbnail_size: int = 256
    thumbnail_format: str = "WEBP"
    max_pixels: int = 50_000_000
    step_time_limit_ms: int = 300_000
    max_retries: int = 5
    min_backoff_ms: int = 1000
    max_backoff_ms: int = 60_000
    shutdown_timeout_ms: int = 30_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        grpc_port = config.env_int("USP_STORAGE_GRPC_PORT", 50052, environ)
        settings = cls(
            storage_target=config.env_str(
                "USP_STORAGE_GRPC_TARGET", f"127.0.0.1:{grpc_port}", environ
            ),
            service_token=config.service_token(environ),
            broker_url=config.broker_url(environ),
            namespace=config.broker_namespace(environ),
            worker_threads=config.env_int("USP_PROCESSOR_THREADS", 4, environ),
            thumbnail_size=config.env_int("USP_THUMBNAIL_SIZE", 256, environ),
            thumbnail_format=config.env_str("USP_THUMBNAIL_FORMAT", "WEBP", environ).upper(),
            max_pixels=config.env_int("USP_MAX_IMAGE_PIXELS", 50_000_000, environ),
            step_time_limit_ms=config.env_int("USP_STEP_TIME_LIMIT", 300_000, environ),
            max_retries=config.env_int("USP_JOB_MAX_RETRIES", 5, environ),
            min_backoff_ms=config.env_int("USP_JOB_MIN_BACKOFF", 1000, environ),
            max_backoff_ms=config.env_int("USP_JOB_MAX_BACKOFF", 60_000, environ),
            shutdown_timeout_ms=config.env_int("USP_PROCESSOR_SHUTDOWN_TIMEOUT", 30_000, environ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse values the worker cannot run with, naming the variable to fix."""
        if self.thumbnail_format not in THUMBNAIL_FORMATS:
            raise config.ConfigError(
                f"USP_THUMBNAIL_FORMAT must be WEBP or JPEG, got {self.thumbnail_format!r}"
            )
        _require_positive(
            USP_PROCESSOR_THREADS=self.worker_threads,
            USP_THUMBNAIL_SIZE=self.thumbnail_size,
            USP_MAX_IMAGE_PIXELS=self.max_pixels,
            USP_STEP_TIME_LIMIT=self.step_time_limit_ms,
            USP_JOB_MIN_BACKOFF=self.min_backoff_ms,
            USP_JOB_MAX_BACKOFF=self.max_backoff_ms,
        )
        if self.max_retries < 0:
            raise config.ConfigError("USP_JOB_MAX_RETRIES must be zero or more")


def _require_positive(**values: int) -> None:
    for name, value in values.items():
        if value <= 0:
            raise config.ConfigError(f"{name} must be greater than zero, got {value}")
