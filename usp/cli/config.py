"""Where the CLI keeps its server URL and API token, and how the environment overrides them.

The file is JSON, `{"url", "token", "grpc_api", "ca"}`, at $USP_CONFIG or
~/.config/usp/config.json, written atomically and readable by its owner only (0600).
USP_URL, USP_TOKEN, USP_GRPC_API and USP_CA override what is stored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from usp.cli.errors import CliError

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Settings:
    url: str = ""
    token: str = ""
    grpc_api: str = ""
    # A PEM file of CA certificates to trust instead of the system's (a private CA).
    ca: str = ""

    @property
    def grpc_tls(self) -> bool:
        """Whether the gRPC API is reached over TLS: when the server's URL is https or
        a CA is given."""
        return self.url.startswith("https://") or bool(self.ca)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("USP_CONFIG"):
        return Path(env["USP_CONFIG"]).expanduser()
    return Path("~/.config/usp/config.json").expanduser()


def normalize_url(url: str) -> str:
    """`host:8000` → `http://host:8000`; no trailing slash."""
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = f"http://{url}"
    return url


def read_settings(path: Path) -> Settings:
    """The stored settings; empty ones when the file does not exist yet."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the configuration {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise CliError(f"the configuration {path} is not a JSON object")
    return Settings(
        url=str(raw.get("url", "")),
        token=str(raw.get("token", "")),
        grpc_api=str(raw.get("grpc_api", "")),
        ca=str(raw.get("ca", "")),
    )


def write_settings(path: Path, settings: Settings) -> None:
    """Replace the file atomically; it is never readable by anyone but its owner."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(settings), handle, indent=2)
            handle.write("\n")
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def apply_environment(settings: Settings, environ: Mapping[str, str] | None = None) -> Settings:
    """USP_URL / USP_TOKEN / USP_GRPC_API / USP_CA win over the file.

    A different URL makes the stored gRPC address meaningless, so it is then dropped
    (and discovered again from the server).
    """
    env = os.environ if environ is None else environ
    url = normalize_url(env.get("USP_URL", "")) or settings.url
    grpc_api = settings.grpc_api if url == settings.url else ""
    return replace(
        settings,
        url=url,
        token=env.get("USP_TOKEN", "") or settings.token,
        grpc_api=env.get("USP_GRPC_API", "") or grpc_api,
        ca=env.get("USP_CA", "") or settings.ca,
    )


def load_settings(environ: Mapping[str, str] | None = None, *, ca: str | None = None) -> Settings:
    """The settings a command runs with (`ca`, from --ca, wins over everything); an
    error when there is no URL or token."""
    settings = apply_environment(read_settings(config_path(environ)), environ)
    if ca:
        settings = replace(settings, ca=ca)
    if not settings.url or not settings.token:
        raise CliError("not logged in: run `usp login` (or set USP_URL and USP_TOKEN)")
    return settings
