"""The web server and the ApiService started and stopped in-process, and `serve` as a
process stopped by SIGTERM."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.waiting import wait_for
from webapp.accounts.tests.factories import token_make, user_make
from webapp.apigrpc.serving import WebServer, start_api, start_web
from webapp.files.live import SLOTS
from webapp.files.models import FileState
from webapp.files.tests.factories import file_make, job_make
from webapp.files.tests.sse import EventReader

ROOT = Path(__file__).resolve().parents[3]


def test_start_web_serves_the_webapp_on_a_free_port_until_stopped(transactional_db: None) -> None:
    web = start_web(0)
    try:
        response = requests.get(f"http://127.0.0.1:{web.port}/healthz", timeout=5)
    finally:
        web.stop(grace=1)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{web.port}/healthz", timeout=2)


def test_the_web_server_accepts_bodies_up_to_the_upload_limit_plus_framing(
    transactional_db: None, settings: Any
) -> None:
    settings.USP = dataclasses.replace(settings.USP, max_upload_size=1000)
    web = start_web(0)
    try:
        within = requests.post(
            f"http://127.0.0.1:{web.port}/healthz", data=b"x" * 500_000, timeout=5
        )
        beyond = requests.post(
            f"http://127.0.0.1:{web.port}/healthz", data=b"x" * 1_100_000, timeout=5
        )
    finally:
        web.stop(grace=1)

    assert within.status_code == 403  # reached Django, whose CSRF check refuses a bare POST
    assert beyond.status_code == 413  # refused by the server before Django


def test_stopping_the_web_server_lets_a_request_in_progress_finish() -> None:
    entered = threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        entered.set()
        time.sleep(0.5)  # the request in progress while stop() is called
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"finished"])

    web = WebServer(port=0, application=slow_app)
    web.start()
    result: dict[str, Any] = {}
    client = threading.Thread(
        target=lambda: result.update(
            response=requests.get(f"http://127.0.0.1:{web.port}/", timeout=10)
        )
    )
    client.start()
    assert entered.wait(5)

    web.stop(grace=5)
    client.join(10)

    assert result["response"].status_code == 200
    assert result["response"].text == "finished"


def test_start_api_answers_health_checks_until_stopped(transactional_db: None) -> None:
    api = start_api(0)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{api.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            statuses = [
                health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
                for name in ("", "usp.v1.ApiService")
            ]
    finally:
        api.stop(grace=1)

    assert statuses == [health_pb2.HealthCheckResponse.SERVING] * 2


def test_serve_command_runs_both_servers_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.test",
        "USP_DATA_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--web-port", "0", "--api-port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.fullmatch(r"web: (http://127\.0\.0\.1:\d+)/  gRPC ApiService: (\S+)\n", line)
        assert match, line + (tmp_path / "stderr.log").read_text()
        response = requests.get(f"{match[1]}/healthz", timeout=5)
        with grpc.insecure_channel(match[2]) as channel:
            status = (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(), timeout=5)
                .status
            )

        process.send_signal(signal.SIGTERM)
        out, _err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert response.status_code == 200
    assert status == health_pb2.HealthCheckResponse.SERVING
    assert process.returncode == 0
    assert out == "stopped\n"


@pytest.fixture
def live_stream_url(transactional_db: None) -> Iterator[tuple[str, str]]:
    """The web server, and the events URL and token of a file still processing."""
    owner = user_make(username="streamer")
    file = file_make(owner=owner, state=FileState.PROCESSING)
    job_make(file=file, step="checksum")
    web = start_web(0)
    try:
        yield f"{web.url}/api/v1/files/{file.id}/events", token_make(owner)
    finally:
        web.stop(grace=1)


def open_stream(url: str, key: str) -> requests.Response:
    return requests.get(url, headers={"Authorization": f"Token {key}"}, stream=True, timeout=(5, 5))


def test_stopping_the_web_server_ends_its_live_streams_at_once(transactional_db: None) -> None:
    owner = user_make(username="streamer")
    file = file_make(owner=owner, state=FileState.PROCESSING)
    web = start_web(0)
    url = f"{web.url}/api/v1/files/{file.id}/events"
    with open_stream(url, token_make(owner)) as response:
        reader = EventReader(response)
        first = reader.next_event(within=5)

        started = time.monotonic()
        web.stop(grace=10)
        took = time.monotonic() - started
        rest = reader.rest(within=5)

    assert first is not None and first.data["state"] == "processing"
    assert rest == []
    assert took < 2  # far below the grace period the stream would otherwise hold
    assert len(SLOTS) == 0


def test_a_client_leaving_a_live_stream_frees_its_server_thread_at_once(
    live_stream_url: tuple[str, str],
) -> None:
    url, key = live_stream_url
    with open_stream(url, key) as response:
        EventReader(response).next_event(within=5)
        assert len(SLOTS) == 1

    wait_for(lambda: len(SLOTS) == 0, timeout=2, what="the stream to notice its client left")
