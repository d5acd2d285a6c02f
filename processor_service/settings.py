"""The processor's settings, read from USP_* environment variables in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from processor_service import sharing
from usp import config
from usp.grpc_tls import TlsFiles, tls_from_env

THUMBNAIL_FORMATS = ("WEBP", "JPEG")
GIB = 1024**3


@dataclass(frozen=True)
class Settings:
    storage_target: str = "127.0.0.1:50052"
    service_token: str = config.DEFAULT_SERVICE_TOKEN
    broker_url: str = ""
    namespace: str = "usp"
    worker_threads: int = 4
    # At most this many threads run retries and reprocessing; 0: half the worker threads
    # (at least one). The other threads are kept for fresh uploads.
    reprocess_threads: int = 0
    thumbnail_sizes: tuple[int, ...] = (256, 1024)
    thumbnail_format: str = "WEBP"
    max_pixels: int = 50_000_000
    step_time_limit_ms: int = 300_000
    max_retries: int = 5
    min_backoff_ms: int = 1000
    max_backoff_ms: int = 60_000
    shutdown_timeout_ms: int = 30_000
    # An attempt still running after this long is reported started (job.started); one
    # that ends sooner is reported by its end alone, which says when it began. 0: at once.
    job_started_delay_ms: int = 1000
    archive_max_entries: int = 10_000
    archive_max_total: int = 10 * GIB
    archive_max_ratio: int = 100
    decoder_memory_limit: int = GIB
    decoder_max_crashes: int = 2
    decoder_jobs_per_process: int = 100
    # At most this many decoders at work at once in this process; 0: its share of the
    # CPUs it may run on, divided between the processors running on the host (sharing).
    decoder_concurrency: int = 0
    # Where the processors of one host find each other to divide its CPUs.
    decoder_share_dir: Path = field(default_factory=sharing.default_directory)
    # Mutual TLS to storage (USP_GRPC_TLS_*); None: plaintext.
    grpc_tls: TlsFiles | None = None

    @property
    def reprocess_share(self) -> int:
        """How many worker threads retries and reprocessing may occupy at once."""
        return self.reprocess_threads or max(1, self.worker_threads // 2)

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
            reprocess_threads=config.env_int("USP_PROCESSOR_REPROCESS_THREADS", 0, environ),
            thumbnail_sizes=_sizes("USP_THUMBNAIL_SIZES", ["256", "1024"], environ),
            thumbnail_format=config.env_str("USP_THUMBNAIL_FORMAT", "WEBP", environ).upper(),
            max_pixels=config.env_int("USP_MAX_IMAGE_PIXELS", 50_000_000, environ),
            step_time_limit_ms=config.env_int("USP_STEP_TIME_LIMIT", 300_000, environ),
            max_retries=config.env_int("USP_JOB_MAX_RETRIES", 5, environ),
            min_backoff_ms=config.env_int("USP_JOB_MIN_BACKOFF", 1000, environ),
            max_backoff_ms=config.env_int("USP_JOB_MAX_BACKOFF", 60_000, environ),
            shutdown_timeout_ms=config.env_int("USP_PROCESSOR_SHUTDOWN_TIMEOUT", 30_000, environ),
            job_started_delay_ms=config.env_int("USP_JOB_STARTED_DELAY", 1000, environ),
            archive_max_entries=config.env_int("USP_ARCHIVE_MAX_ENTRIES", 10_000, environ),
            archive_max_total=config.env_int("USP_ARCHIVE_MAX_TOTAL", 10 * GIB, environ),
            archive_max_ratio=config.env_int("USP_ARCHIVE_MAX_RATIO", 100, environ),
            decoder_memory_limit=config.env_int("USP_DECODER_MEMORY_LIMIT", GIB, environ),
            decoder_max_crashes=config.env_int("USP_DECODER_MAX_CRASHES", 2, environ),
            decoder_jobs_per_process=config.env_int("USP_DECODER_JOBS_PER_PROCESS", 100, environ),
            decoder_concurrency=config.env_int("USP_DECODER_CONCURRENCY", 0, environ),
            decoder_share_dir=Path(
                config.env_str("USP_DECODER_SHARE_DIR", str(sharing.default_directory()), environ)
            ),
            grpc_tls=tls_from_env(environ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse values the worker cannot run with, naming the variable to fix."""
        if self.thumbnail_format not in THUMBNAIL_FORMATS:
            raise config.ConfigError(
                f"USP_THUMBNAIL_FORMAT must be WEBP or JPEG, got {self.thumbnail_format!r}"
            )
        if not self.thumbnail_sizes:
            raise config.ConfigError("USP_THUMBNAIL_SIZES must name at least one size")
        _require_positive(
            USP_PROCESSOR_THREADS=self.worker_threads,
            USP_THUMBNAIL_SIZES=min(self.thumbnail_sizes),
            USP_MAX_IMAGE_PIXELS=self.max_pixels,
            USP_STEP_TIME_LIMIT=self.step_time_limit_ms,
            USP_JOB_MIN_BACKOFF=self.min_backoff_ms,
            USP_JOB_MAX_BACKOFF=self.max_backoff_ms,
            USP_ARCHIVE_MAX_ENTRIES=self.archive_max_entries,
            USP_ARCHIVE_MAX_TOTAL=self.archive_max_total,
            USP_ARCHIVE_MAX_RATIO=self.archive_max_ratio,
            USP_DECODER_MEMORY_LIMIT=self.decoder_memory_limit,
            USP_DECODER_JOBS_PER_PROCESS=self.decoder_jobs_per_process,
        )
        self._validate_reprocess_threads()
        if self.max_retries < 0:
            raise config.ConfigError("USP_JOB_MAX_RETRIES must be zero or more")
        if self.job_started_delay_ms < 0:
            raise config.ConfigError("USP_JOB_STARTED_DELAY must be zero (at once) or more")
        if self.decoder_concurrency < 0:
            raise config.ConfigError(
                "USP_DECODER_CONCURRENCY must be zero (a share of the CPUs) or more"
            )
        if self.decoder_max_crashes < 1:
            raise config.ConfigError("USP_DECODER_MAX_CRASHES must be one or more")

    def _validate_reprocess_threads(self) -> None:
        # With one worker thread the two queues share it; with more, fresh uploads keep
        # at least one thread of their own.
        most = max(1, self.worker_threads - 1)
        if not 0 <= self.reprocess_threads <= most:
            raise config.ConfigError(
                f"USP_PROCESSOR_REPROCESS_THREADS must be 0 (half the threads) to {most} "
                f"(USP_PROCESSOR_THREADS - 1), got {self.reprocess_threads}"
            )


def _sizes(name: str, default: list[str], environ: Mapping[str, str] | None) -> tuple[int, ...]:
    """A comma-separated list of pixel sizes, without duplicates, smallest first."""
    items = config.env_list(name, default, environ)
    try:
        return tuple(sorted({int(item) for item in items}))
    except ValueError:
        raise config.ConfigError(f"{name} must be whole numbers separated by commas") from None


def _require_positive(**values: int) -> None:
    for name, value in values.items():
        if value <= 0:
            raise config.ConfigError(f"{name} must be greater than zero, got {value}")
