"""Start the whole system the way the README does, and talk to it as a client would."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.waiting import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def system_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USP_")}
    env.update(
        {
            "USP_DATA_DIR": str(data_dir),
            "USP_WEB_PORT": str(free_port()),
            "USP_API_GRPC_PORT": str(free_port()),
            "USP_STORAGE_GRPC_PORT": str(free_port()),
            "USP_STORAGE_HTTP_PORT": str(free_port()),
            "USP_SERVICE_TOKEN": "e2e-service-token",
            "USP_ACCOUNT_EMAIL_VERIFICATION": "none",
            "DJANGO_SETTINGS_MODULE": "webapp.config.settings.local",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def manage(env: Mapping[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def create_user_with_token(env: Mapping[str, str], username: str) -> str:
    email = f"{username}@example.com"
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, {email!r}, 'pw-12345678')",
    )
    return manage(env, "create_api_token", username).strip().splitlines()[-1]


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(value) for value in text)
    return children


@dataclass
class RunningSystem:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['USP_WEB_PORT']}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:]


@contextmanager
def running_system(env: dict[str, str], *args: str) -> Iterator[RunningSystem]:
    """Run `python -m usp.run ARGS` until ready; stop it with SIGTERM afterwards."""
    manage(env, "migrate", "--noinput")
    log_path = Path(env["USP_DATA_DIR"]) / "system.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "usp.run", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    system = RunningSystem(process, env, log_path)
    try:
        _wait_ready(system)
        yield system
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(system: RunningSystem) -> None:
    """Until the system answers ready; a timeout shows the system's log as it is then."""
    try:
        wait_for(lambda: _ready(system), timeout=90, what="readiness")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{system.log()}") from None


def _ready(system: RunningSystem) -> bool:
    if system.process.poll() is not None:
        raise AssertionError(f"the system exited early:\n{system.log()}")
    try:
        return requests.get(f"{system.url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


class ApiClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def upload(self, name: str, data: bytes, pipeline: str = "") -> dict[str, Any]:
        response = self.session.post(
            f"{self.url}/api/v1/files/",
            files={"file": (name, io.BytesIO(data))},
            data={"pipeline": pipeline} if pipeline else {},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def file(self, file_id: str) -> dict[str, Any]:
        response = self.session.get(f"{self.url}/api/v1/files/{file_id}/", timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_until_settled(self, file_id: str, timeout: float = 60) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            resource = self.file(file_id)
            return resource if resource["state"] in ("ready", "failed") else None

        return dict(wait_for(settled, timeout=timeout, what=f"file {file_id} to settle"))

    def download(self, url: str) -> requests.Response:
        response = self.session.get(url, timeout=30)
        assert response.status_code == 200, response.text
        return response
