"""The webapp's environment, parsed once into a frozen dataclass.

This is the only module that reads the webapp's USP_* variables; the settings modules
expose the result as `settings.USP`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from usp import config
from usp.grpc_tls import TlsFiles, tls_from_env

EMAIL_VERIFICATION_CHOICES = ("mandatory", "optional", "none")
GIB = 1024**3
DEFAULT_EMAIL_FROM = "upload-store-process <noreply@localhost>"
_MIME_PATTERN = re.compile(r"^(\*/\*|[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*))$")


@dataclass(frozen=True)
class WebappEnv:
    data_dir: Path
    database_url: str
    secret_key: str
    allowed_hosts: tuple[str, ...]
    storage_grpc_target: str
    service_token: str
    # Mutual TLS to storage, and TLS on the gRPC ApiService (USP_GRPC_TLS_*); None: plaintext.
    grpc_tls: TlsFiles | None
    broker_url: str
    broker_namespace: str
    web_host: str
    web_port: int
    api_grpc_host: str
    api_grpc_port: int
    account_email_verification: str
    # Outgoing mail: the SMTP server of USP_EMAIL_URL; None leaves the choice to the
    # settings module (the console locally, the local mail server in production).
    email: MailServer | None
    email_from: str
    # The cache shared by the web server's threads (and, with Redis, by every webapp
    # process): login and password-reset rate limits, API throttles. Empty: in memory.
    cache_url: str
    # Requests a user (or an anonymous address) may make to the REST and gRPC APIs:
    # upload requests, and all others; None: unlimited.
    throttle_uploads: Rate | None
    throttle_api: Rate | None
    # The web server closes a connection on which no byte moved for this long.
    web_timeout: int
    public_url: str
    max_upload_size: int
    allowed_types: tuple[str, ...]
    quota_bytes: int
    quota_files: int
    upload_expiry: int
    # The processor's retry backoff (same variables), to estimate when a job retries.
    job_min_backoff_ms: int
    job_max_backoff_ms: int
    # Live status streams (server-sent events): each holds a web server thread, so they
    # are few and short; a client reconnects after `live_stream_seconds`.
    live_stream_seconds: int
    live_max_streams: int
    # Production HTTPS: redirect plain HTTP, and trust X-Forwarded-Proto from a proxy.
    secure_ssl_redirect: bool
    trust_proxy: bool
    # The storage data plane's origin: browsers send upload bytes there (CSP connect-src).
    storage_public_url: str
    # A separate origin that serves stored bytes (scheme://host[:port]; empty: this site),
    # through signed links that live `usercontent_link_seconds`.
    usercontent_origin: str
    usercontent_link_seconds: int

    @property
    def usercontent_host(self) -> str:
        """The user-content origin's host name (for ALLOWED_HOSTS); empty when unset."""
        return urlsplit(self.usercontent_origin).hostname or ""


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
        grpc_tls=tls_from_env(environ),
        broker_url=config.broker_url(environ),
        broker_namespace=config.broker_namespace(environ),
        web_host=config.env_str("USP_WEB_HOST", "127.0.0.1", environ),
        web_port=config.env_int("USP_WEB_PORT", 8000, environ),
        api_grpc_host=config.env_str("USP_API_GRPC_HOST", "127.0.0.1", environ),
        api_grpc_port=config.env_int("USP_API_GRPC_PORT", 50051, environ),
        account_email_verification=_email_verification(environ),
        email=_email(environ),
        email_from=config.env_str("USP_EMAIL_FROM", DEFAULT_EMAIL_FROM, environ),
        cache_url=_cache_url(environ),
        throttle_uploads=_rate("USP_THROTTLE_UPLOADS", "600/min", environ),
        throttle_api=_rate("USP_THROTTLE_API", "1200/min", environ),
        web_timeout=_positive("USP_WEB_TIMEOUT", 60, environ),
        public_url=_public_url(environ),
        max_upload_size=_non_negative("USP_MAX_UPLOAD_SIZE", 5 * GIB, environ),
        allowed_types=_allowed_types(environ),
        quota_bytes=_non_negative("USP_QUOTA_BYTES", 10 * GIB, environ),
        quota_files=_non_negative("USP_QUOTA_FILES", 10_000, environ),
        upload_expiry=_positive("USP_UPLOAD_EXPIRY", 86_400, environ),
        job_min_backoff_ms=_non_negative("USP_JOB_MIN_BACKOFF", 1000, environ),
        job_max_backoff_ms=_non_negative("USP_JOB_MAX_BACKOFF", 60_000, environ),
        live_stream_seconds=_positive("USP_LIVE_STREAM_SECONDS", 60, environ),
        live_max_streams=_non_negative("USP_LIVE_MAX_STREAMS", 4, environ),
        secure_ssl_redirect=config.env_bool("USP_SECURE_SSL_REDIRECT", True, environ),
        trust_proxy=config.env_bool("USP_TRUST_PROXY", False, environ),
        storage_public_url=_storage_public_url(environ),
        usercontent_origin=_usercontent_origin(environ),
        usercontent_link_seconds=_positive("USP_USERCONTENT_LINK_SECONDS", 300, environ),
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


def _storage_public_url(environ: Mapping[str, str] | None) -> str:
    """USP_STORAGE_PUBLIC_URL, else the data plane on its host (USP_STORAGE_HTTP_HOST) at
    any port: storage may bind a free port, which the webapp cannot know."""
    value = config.env_str("USP_STORAGE_PUBLIC_URL", "", environ).rstrip("/")
    if value:
        if not value.startswith(("http://", "https://")):
            raise config.ConfigError("USP_STORAGE_PUBLIC_URL must start with http:// or https://")
        return value
    host = config.env_str("USP_STORAGE_HTTP_HOST", "127.0.0.1", environ)
    if host in ("0.0.0.0", "::"):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:*"


def _usercontent_origin(environ: Mapping[str, str] | None) -> str:
    """USP_USERCONTENT_ORIGIN as scheme://host[:port], lower case; empty when unset.

    It must be another host than the site's (USP_PUBLIC_URL): cookies are shared by all
    ports of a host, so only another host name keeps user content away from them."""
    value = config.env_str("USP_USERCONTENT_ORIGIN", "", environ).strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or not _port_valid(value):
        raise config.ConfigError(
            "USP_USERCONTENT_ORIGIN must be an origin like https://usercontent.example.org"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise config.ConfigError(
            "USP_USERCONTENT_ORIGIN must be an origin only (scheme://host[:port]), "
            "without a path, query or user"
        )
    if parts.hostname == urlsplit(_public_url(environ)).hostname:
        raise config.ConfigError(
            "USP_USERCONTENT_ORIGIN must be on another host than USP_PUBLIC_URL"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _port_valid(url: str) -> bool:
    try:
        urlsplit(url).port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return False
    return True


def _non_negative(name: str, default: int, environ: Mapping[str, str] | None) -> int:
    value = config.env_int(name, default, environ)
    if value < 0:
        raise config.ConfigError(f"{name} must not be negative, got {value}")
    return value


def _positive(name: str, default: int, environ: Mapping[str, str] | None) -> int:
    value = config.env_int(name, default, environ)
    if value <= 0:
        raise config.ConfigError(f"{name} must be a positive number of seconds, got {value}")
    return value


def _allowed_types(environ: Mapping[str, str] | None) -> tuple[str, ...]:
    """USP_ALLOWED_TYPES: MIME patterns ("image/*", "application/pdf"); empty allows any."""
    patterns = tuple(item.lower() for item in config.env_list("USP_ALLOWED_TYPES", [], environ))
    for pattern in patterns:
        if not _MIME_PATTERN.match(pattern):
            raise config.ConfigError(
                f"USP_ALLOWED_TYPES must list MIME types or patterns like image/*, got {pattern!r}"
            )
    return patterns


@dataclass(frozen=True)
class MailServer:
    """An SMTP server: `starttls` upgrades a plain connection, `implicit_tls` starts with
    TLS (smtps); `timeout` bounds every network operation of a delivery."""

    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    implicit_tls: bool = False
    timeout: float = 10.0


# scheme: (default port, STARTTLS, implicit TLS)
MAIL_SCHEMES = {
    "smtp": (25, False, False),
    "smtp+starttls": (587, True, False),
    "submission": (587, True, False),
    "smtps": (465, False, True),
}
_MAIL_URL_ADVICE = (
    "USP_EMAIL_URL must look like smtp://host:25, submission://user:password@host:587 "
    "(STARTTLS) or smtps://user:password@host:465"
)


def _email(environ: Mapping[str, str] | None) -> MailServer | None:
    value = config.env_str("USP_EMAIL_URL", "", environ).strip()
    return mail_server(value) if value else None


def mail_server(url: str) -> MailServer:
    """The server of an SMTP URL: scheme://[user[:password]@]host[:port][?timeout=s];
    user and password are percent-decoded. Raises ConfigError naming USP_EMAIL_URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in MAIL_SCHEMES or not parts.hostname or parts.path not in ("", "/"):
        raise config.ConfigError(_MAIL_URL_ADVICE)
    default_port, starttls, implicit_tls = MAIL_SCHEMES[scheme]
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise config.ConfigError(_MAIL_URL_ADVICE) from exc
    return MailServer(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        starttls=starttls,
        implicit_tls=implicit_tls,
        timeout=_mail_timeout(parts.query),
    )


def _mail_timeout(query: str) -> float:
    values = parse_qs(query).get("timeout", ["10"])
    try:
        timeout = float(values[-1])
    except ValueError:
        timeout = 0.0
    if timeout <= 0:
        raise config.ConfigError("USP_EMAIL_URL timeout= must be a positive number of seconds")
    return timeout


def _cache_url(environ: Mapping[str, str] | None) -> str:
    value = config.env_str("USP_CACHE_URL", "", environ).strip()
    if value and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise config.ConfigError(
            "USP_CACHE_URL must be a Redis URL (redis://host:6379/0, rediss://… or unix://…)"
        )
    return value


@dataclass(frozen=True)
class Rate:
    """`requests` per `seconds`."""

    requests: int
    seconds: int


RATE_PERIODS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86_400, "day": 86_400,
}  # fmt: skip


def _rate(name: str, default: str, environ: Mapping[str, str] | None) -> Rate | None:
    """A rate like "120/min" (per s, min, hour or day); "0" or set empty: no limit."""
    raw = (os.environ if environ is None else environ).get(name, default).strip()
    if raw in ("", "0"):
        return None
    count, _, period = raw.partition("/")
    seconds = RATE_PERIODS.get(period.strip().lower())
    if not count.strip().isdigit() or seconds is None or int(count) == 0:
        raise config.ConfigError(
            f"{name} must be a number of requests per s, min, hour or day like 120/min, "
            f"or 0 for no limit; got {raw!r}"
        )
    return Rate(requests=int(count), seconds=seconds)
