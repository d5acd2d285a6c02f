from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from processor_service.settings import Settings
from usp.config import DEFAULT_SERVICE_TOKEN, ConfigError


def test_defaults_point_at_local_storage_and_the_embedded_brokers() -> None:
    assert Settings.from_env({}) == Settings(
        storage_target="127.0.0.1:50052",
        service_token=DEFAULT_SERVICE_TOKEN,
        broker_url="",
        namespace="usp",
        worker_threads=4,
        reprocess_threads=0,
        thumbnail_sizes=(256, 1024),
        thumbnail_format="WEBP",
        max_pixels=50_000_000,
        step_time_limit_ms=300_000,
        max_retries=5,
        min_backoff_ms=1000,
        max_backoff_ms=60_000,
        shutdown_timeout_ms=30_000,
        job_started_delay_ms=1000,
        archive_max_entries=10_000,
        archive_max_total=10 * 1024**3,
        archive_max_ratio=100,
        decoder_memory_limit=1024**3,
        decoder_max_crashes=2,
    )


def test_every_setting_is_read_from_its_environment_variable() -> None:
    settings = Settings.from_env(
        {
            "USP_STORAGE_GRPC_TARGET": "storage:9000",
            "USP_SERVICE_TOKEN": "secret",
            "USP_BROKER_URL": "amqp://rabbit/",
            "USP_BROKER_NAMESPACE": "prod",
            "USP_PROCESSOR_THREADS": "3",
            "USP_PROCESSOR_REPROCESS_THREADS": "2",
            "USP_THUMBNAIL_SIZES": "512, 128,512",
            "USP_THUMBNAIL_FORMAT": "jpeg",
            "USP_MAX_IMAGE_PIXELS": "1000",
            "USP_STEP_TIME_LIMIT": "5000",
            "USP_JOB_MAX_RETRIES": "0",
            "USP_JOB_MIN_BACKOFF": "10",
            "USP_JOB_MAX_BACKOFF": "20",
            "USP_PROCESSOR_SHUTDOWN_TIMEOUT": "100",
            "USP_JOB_STARTED_DELAY": "0",
            "USP_ARCHIVE_MAX_ENTRIES": "50",
            "USP_ARCHIVE_MAX_TOTAL": "1000000",
            "USP_ARCHIVE_MAX_RATIO": "7",
            "USP_DECODER_MEMORY_LIMIT": "536870912",
            "USP_DECODER_MAX_CRASHES": "1",
            "USP_DECODER_JOBS_PER_PROCESS": "7",
            "USP_DECODER_CONCURRENCY": "3",
            "USP_DECODER_SHARE_DIR": "/run/usp/processors",
        }
    )

    assert settings == Settings(
        storage_target="storage:9000",
        service_token="secret",
        broker_url="amqp://rabbit/",
        namespace="prod",
        worker_threads=3,
        reprocess_threads=2,
        thumbnail_sizes=(128, 512),
        thumbnail_format="JPEG",
        max_pixels=1000,
        step_time_limit_ms=5000,
        max_retries=0,
        min_backoff_ms=10,
        max_backoff_ms=20,
        shutdown_timeout_ms=100,
        job_started_delay_ms=0,
        archive_max_entries=50,
        archive_max_total=1_000_000,
        archive_max_ratio=7,
        decoder_memory_limit=512 * 1024**2,
        decoder_max_crashes=1,
        decoder_jobs_per_process=7,
        decoder_concurrency=3,
        decoder_share_dir=Path("/run/usp/processors"),
    )


def test_storage_target_follows_the_storage_grpc_port_when_not_given() -> None:
    assert Settings.from_env({"USP_STORAGE_GRPC_PORT": "6000"}).storage_target == "127.0.0.1:6000"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("USP_THUMBNAIL_FORMAT", "GIF"),
        ("USP_THUMBNAIL_SIZES", "256,0"),
        ("USP_THUMBNAIL_SIZES", "256,big"),
        ("USP_THUMBNAIL_SIZES", ","),
        ("USP_ARCHIVE_MAX_RATIO", "0"),
        ("USP_DECODER_MEMORY_LIMIT", "-1"),
        ("USP_DECODER_MAX_CRASHES", "0"),
        ("USP_DECODER_JOBS_PER_PROCESS", "0"),
        ("USP_DECODER_CONCURRENCY", "-1"),
        ("USP_PROCESSOR_THREADS", "many"),
        ("USP_JOB_MAX_RETRIES", "-1"),
        ("USP_JOB_STARTED_DELAY", "-1"),
        ("USP_PROCESSOR_REPROCESS_THREADS", "-1"),
        ("USP_PROCESSOR_REPROCESS_THREADS", "4"),
    ],
)
def test_unusable_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("threads", "reprocess", "share"),
    [("4", "", 2), ("5", "", 2), ("1", "", 1), ("2", "", 1), ("8", "7", 7), ("1", "1", 1)],
)
def test_reprocessing_gets_half_the_threads_unless_told_and_never_all_of_several(
    threads: str, reprocess: str, share: int
) -> None:
    environ = {"USP_PROCESSOR_THREADS": threads}
    if reprocess:
        environ["USP_PROCESSOR_REPROCESS_THREADS"] = reprocess

    assert Settings.from_env(environ).reprocess_share == share


def test_processors_share_the_cpus_through_a_directory_of_the_temporary_one_by_default() -> None:
    settings = Settings.from_env({})

    assert settings.decoder_concurrency == 0
    expected = Path(tempfile.gettempdir()) / f"usp-processors-{os.getuid()}"
    assert settings.decoder_share_dir == expected


def test_reprocessing_may_not_take_every_thread_of_several() -> None:
    with pytest.raises(ConfigError, match=r"USP_PROCESSOR_REPROCESS_THREADS must be 0 .* to 1 "):
        Settings.from_env({"USP_PROCESSOR_THREADS": "2", "USP_PROCESSOR_REPROCESS_THREADS": "2"})
