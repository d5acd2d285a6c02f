from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from usp.config import ConfigError
from webapp.config.env import MailServer, Rate, WebappEnv, load_env
from webapp.config.settings.base import database_settings
from webapp.core.tests.django_process import run_django


def test_env_defaults(tmp_path: Path) -> None:
    env = load_env({"USP_DATA_DIR": str(tmp_path)})

    assert env == WebappEnv(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/webapp.sqlite3",
        secret_key="",
        allowed_hosts=("127.0.0.1", "localhost"),
        storage_grpc_target="127.0.0.1:50052",
        service_token="usp-embedded-service-token",
        grpc_tls=None,
        broker_url="",
        broker_namespace="usp",
        web_host="127.0.0.1",
        web_port=8000,
        api_grpc_host="127.0.0.1",
        api_grpc_port=50051,
        account_email_verification="mandatory",
        email=None,
        email_from="upload-store-process <noreply@localhost>",
        cache_url="",
        throttle_uploads=Rate(requests=600, seconds=60),
        throttle_api=Rate(requests=1200, seconds=60),
        web_timeout=60,
        public_url="",
        max_upload_size=5 * 1024**3,
        allowed_types=(),
        quota_bytes=10 * 1024**3,
        quota_files=10_000,
        upload_expiry=86_400,
        job_min_backoff_ms=1000,
        job_max_backoff_ms=60_000,
        live_stream_seconds=60,
        live_max_streams=4,
        secure_ssl_redirect=True,
        trust_proxy=False,
        storage_public_url="http://127.0.0.1:*",
        usercontent_origin="",
        usercontent_link_seconds=300,
    )


def test_env_reads_every_variable(tmp_path: Path) -> None:
    env = load_env(
        {
            "USP_DATA_DIR": str(tmp_path),
            "USP_DATABASE_URL": "postgresql://db/usp",
            "USP_SECRET_KEY": "k",
            "USP_ALLOWED_HOSTS": "files.example.com, .example.org",
            "USP_STORAGE_GRPC_PORT": "6000",
            "USP_SERVICE_TOKEN": "t",
            "USP_BROKER_URL": "amqp://rabbit//",
            "USP_BROKER_NAMESPACE": "ns",
            "USP_WEB_HOST": "0.0.0.0",
            "USP_WEB_PORT": "8080",
            "USP_API_GRPC_HOST": "::",
            "USP_API_GRPC_PORT": "6001",
            "USP_ACCOUNT_EMAIL_VERIFICATION": "Optional",
            "USP_EMAIL_URL": "submission://mailer%40example.com:p%3Ass@mail.example.com",
            "USP_EMAIL_FROM": "Files <files@example.com>",
            "USP_CACHE_URL": "redis://cache:6379/2",
            "USP_THROTTLE_UPLOADS": "30/hour",
            "USP_THROTTLE_API": "0",
            "USP_WEB_TIMEOUT": "20",
            "USP_PUBLIC_URL": "https://files.example.com/",
            "USP_MAX_UPLOAD_SIZE": "1048576",
            "USP_ALLOWED_TYPES": "image/*, Application/PDF,*/*",
            "USP_QUOTA_BYTES": "0",
            "USP_QUOTA_FILES": "7",
            "USP_UPLOAD_EXPIRY": "600",
            "USP_JOB_MIN_BACKOFF": "500",
            "USP_JOB_MAX_BACKOFF": "8000",
            "USP_LIVE_STREAM_SECONDS": "30",
            "USP_LIVE_MAX_STREAMS": "2",
            "USP_SECURE_SSL_REDIRECT": "false",
            "USP_TRUST_PROXY": "true",
            "USP_STORAGE_PUBLIC_URL": "https://upload.example.com/",
            "USP_USERCONTENT_ORIGIN": "https://Files-Content.example.NET:8443/",
            "USP_USERCONTENT_LINK_SECONDS": "120",
        }
    )

    assert env == WebappEnv(
        data_dir=tmp_path,
        database_url="postgresql://db/usp",
        secret_key="k",
        allowed_hosts=("files.example.com", ".example.org"),
        storage_grpc_target="127.0.0.1:6000",
        service_token="t",
        grpc_tls=None,
        broker_url="amqp://rabbit//",
        broker_namespace="ns",
        web_host="0.0.0.0",
        web_port=8080,
        api_grpc_host="::",
        api_grpc_port=6001,
        account_email_verification="optional",
        email=MailServer(
            host="mail.example.com",
            port=587,
            username="mailer@example.com",
            password="p:ss",
            starttls=True,
        ),
        email_from="Files <files@example.com>",
        cache_url="redis://cache:6379/2",
        throttle_uploads=Rate(requests=30, seconds=3600),
        throttle_api=None,
        web_timeout=20,
        public_url="https://files.example.com",
        max_upload_size=1_048_576,
        allowed_types=("image/*", "application/pdf", "*/*"),
        quota_bytes=0,
        quota_files=7,
        upload_expiry=600,
        job_min_backoff_ms=500,
        job_max_backoff_ms=8000,
        live_stream_seconds=30,
        live_max_streams=2,
        secure_ssl_redirect=False,
        trust_proxy=True,
        storage_public_url="https://upload.example.com",
        usercontent_origin="https://files-content.example.net:8443",
        usercontent_link_seconds=120,
    )
    assert env.usercontent_host == "files-content.example.net"


def test_storage_public_url_defaults_to_the_data_planes_host_on_any_port() -> None:
    env = load_env({"USP_STORAGE_HTTP_HOST": "0.0.0.0", "USP_STORAGE_HTTP_PORT": "0"})

    assert env.storage_public_url == "http://127.0.0.1:*"


def test_explicit_storage_target_wins_over_the_port() -> None:
    env = load_env({"USP_STORAGE_GRPC_PORT": "6000", "USP_STORAGE_GRPC_TARGET": "storage:7000"})

    assert env.storage_grpc_target == "storage:7000"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("USP_ACCOUNT_EMAIL_VERIFICATION", "sometimes", "must be one of mandatory, optional, none"),
        ("USP_EMAIL_URL", "mail.example.com:25", "must look like smtp://host:25"),
        ("USP_EMAIL_URL", "imap://mail.example.com", "must look like smtp://host:25"),
        ("USP_EMAIL_URL", "smtp://mail.example.com:99999", "must look like smtp://host:25"),
        ("USP_EMAIL_URL", "smtp://mail.example.com/x", "must look like smtp://host:25"),
        ("USP_EMAIL_URL", "smtp://mail.example.com?timeout=0", "timeout= must be a positive"),
        ("USP_CACHE_URL", "memcached://cache:11211", "must be a Redis URL"),
        ("USP_THROTTLE_UPLOADS", "120", "must be a number of requests per s, min, hour or day"),
        ("USP_THROTTLE_API", "ten/min", "must be a number of requests per s, min, hour or day"),
        ("USP_THROTTLE_API", "10/week", "must be a number of requests per s, min, hour or day"),
        ("USP_WEB_TIMEOUT", "0", "must be a positive number of seconds"),
        ("USP_PUBLIC_URL", "files.example.com", "must start with http:// or https://"),
        ("USP_WEB_PORT", "eighty", "must be a whole number"),
        ("USP_MAX_UPLOAD_SIZE", "-1", "must not be negative"),
        ("USP_QUOTA_BYTES", "5GB", "must be a whole number"),
        ("USP_QUOTA_FILES", "-3", "must not be negative"),
        ("USP_UPLOAD_EXPIRY", "0", "must be a positive number of seconds"),
        ("USP_LIVE_STREAM_SECONDS", "0", "must be a positive number of seconds"),
        ("USP_JOB_MAX_BACKOFF", "-5", "must not be negative"),
        ("USP_ALLOWED_TYPES", "image/*,pdf", "must list MIME types or patterns like image/\\*"),
        ("USP_ALLOWED_TYPES", "*/png", "must list MIME types or patterns like image/\\*"),
        ("USP_SECURE_SSL_REDIRECT", "maybe", "must be true or false"),
        ("USP_TRUST_PROXY", "2", "must be true or false"),
        ("USP_STORAGE_PUBLIC_URL", "upload.example.com", "must start with http:// or https://"),
        ("USP_USERCONTENT_ORIGIN", "usercontent.example.org", "must be an origin like"),
        ("USP_USERCONTENT_ORIGIN", "ftp://usercontent.example.org", "must be an origin like"),
        ("USP_USERCONTENT_ORIGIN", "https://", "must be an origin like"),
        ("USP_USERCONTENT_ORIGIN", "https://uc.example.org:99999", "must be an origin like"),
        ("USP_USERCONTENT_ORIGIN", "https://uc.example.org/files", "must be an origin only"),
        ("USP_USERCONTENT_ORIGIN", "https://uc.example.org/?a=1", "must be an origin only"),
        ("USP_USERCONTENT_ORIGIN", "https://me@uc.example.org", "must be an origin only"),
        ("USP_USERCONTENT_LINK_SECONDS", "0", "must be a positive number of seconds"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=f"{name} {message}"):
        load_env({name: value})


def test_the_user_content_origin_must_be_another_host_than_the_site() -> None:
    environ = {
        "USP_PUBLIC_URL": "https://files.example.com",
        "USP_USERCONTENT_ORIGIN": "https://files.example.com:8443",
    }

    with pytest.raises(ConfigError, match="USP_USERCONTENT_ORIGIN must be on another host"):
        load_env(environ)


def test_sqlite_gets_wal_a_lock_timeout_and_immediate_transactions() -> None:
    database = database_settings("sqlite:////tmp/x.sqlite3")

    assert (database["ENGINE"], database["NAME"], database["OPTIONS"]) == (
        "django.db.backends.sqlite3",
        "/tmp/x.sqlite3",
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    )
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (60, True)


def test_postgres_urls_keep_persistent_health_checked_connections() -> None:
    database = database_settings("postgresql://u@db:5432/usp")

    assert (database["ENGINE"], database["NAME"], database["CONN_MAX_AGE"]) == (
        "django.db.backends.postgresql",
        "usp",
        60,
    )
    assert database["CONN_HEALTH_CHECKS"] is True


@pytest.mark.django_db
def test_the_test_database_runs_in_wal_mode() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


PRODUCTION = "webapp.config.settings.production"
SECRET = "Zq7-long-random-production-secret-for-this-test-only-Hk29_xPw4mN8vR1tB6yC"


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "USP_SECRET_KEY must be set in production"),
        ("short-secret", "USP_SECRET_KEY is too short or too simple"),
        ("a" * 60, "USP_SECRET_KEY is too short or too simple"),
        ("django-insecure-" + SECRET, "USP_SECRET_KEY must not be a generated development key"),
    ],
)
def test_production_settings_refuse_to_start_with_a_missing_or_weak_secret_key(
    tmp_path: Path, secret: str, message: str
) -> None:
    result = run_django(PRODUCTION, "check", USP_DATA_DIR=str(tmp_path), USP_SECRET_KEY=secret)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_settings_pass_the_deployment_check_without_warnings(tmp_path: Path) -> None:
    result = run_django(
        PRODUCTION,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        USP_DATA_DIR=str(tmp_path),
        USP_SECRET_KEY=SECRET,
        USP_ALLOWED_HOSTS="files.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert (tmp_path / "static").is_dir()


def print_setting(tmp_path: Path, expression: str, **env: str) -> str:
    code = f"from django.conf import settings; print(repr({expression}))"
    result = run_django(
        PRODUCTION, "shell", "-c", code, USP_DATA_DIR=str(tmp_path), USP_SECRET_KEY=SECRET, **env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_redirects_to_https_and_ignores_forwarded_proto_by_default(
    tmp_path: Path,
) -> None:
    expression = (
        "(settings.SECURE_SSL_REDIRECT, settings.SECURE_PROXY_SSL_HEADER, "
        "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.DEBUG)"
    )

    assert print_setting(tmp_path, expression) == "(True, None, True, True, False)"


def test_production_behind_a_trusted_proxy_honours_forwarded_proto(tmp_path: Path) -> None:
    expression = "(settings.SECURE_SSL_REDIRECT, settings.SECURE_PROXY_SSL_HEADER)"
    value = print_setting(
        tmp_path, expression, USP_SECURE_SSL_REDIRECT="false", USP_TRUST_PROXY="true"
    )

    assert value == "(False, ('HTTP_X_FORWARDED_PROTO', 'https'))"


def test_production_allows_the_user_content_host_only_when_one_is_set(tmp_path: Path) -> None:
    hosts = "files.example.com"

    without = print_setting(tmp_path, "settings.ALLOWED_HOSTS", USP_ALLOWED_HOSTS=hosts)
    with_origin = print_setting(
        tmp_path,
        "settings.ALLOWED_HOSTS",
        USP_ALLOWED_HOSTS=hosts,
        USP_USERCONTENT_ORIGIN="https://usercontent.example.net",
    )

    assert without == "['files.example.com']"
    assert with_origin == "['files.example.com', 'usercontent.example.net']"


def test_local_settings_migrate_into_the_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    result = run_django("webapp.config.settings.local", "migrate", USP_DATA_DIR=str(data_dir))

    assert result.returncode == 0, result.stderr
    assert (data_dir / "webapp.sqlite3").is_file()
