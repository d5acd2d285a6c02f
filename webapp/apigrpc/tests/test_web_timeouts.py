"""Slow clients of the web server: one that stops sending a request or stops reading a
response is cut off after the timeout, and no worker thread waits on it meanwhile; behind
a trusted proxy the client's own address is the one rate limits count."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.waiting import wait_for
from webapp.apigrpc.serving import WebServer

TIMEOUT = 1  # seconds without a byte moving


@pytest.fixture
def serve() -> Iterator[Callable[..., WebServer]]:
    servers: list[WebServer] = []

    def start(**options: Any) -> WebServer:
        server = WebServer(port=0, timeout=TIMEOUT, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(grace=1)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed the connection (reads to the end of what it sent)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_a_client_that_stops_sending_its_request_is_cut_off_without_holding_a_thread(
    transactional_db: None, serve: Callable[..., WebServer]
) -> None:
    web = serve(threads=1)
    stalled = socket.create_connection(("127.0.0.1", web.port), timeout=10)
    stalled.sendall(
        b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
        b"login=someone"
    )
    started = time.monotonic()

    # The only worker thread is free: the body is read on the server's loop thread.
    meanwhile = requests.get(f"{web.url}/healthz", timeout=5)
    with stalled:
        cut = closed_by_server(stalled)
    elapsed = time.monotonic() - started

    assert meanwhile.status_code == 200
    assert cut is True
    assert TIMEOUT <= elapsed < 8


class EndlessDownload:
    """A WSGI app streaming 1 MiB chunks for a long time; /ok answers at once."""

    CHUNK = b"x" * (1024 * 1024)
    CHUNKS = 1024

    def __init__(self) -> None:
        self.sent = 0
        self.closed = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["PATH_INFO"] == "/ok":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        try:
            for _ in range(self.CHUNKS):
                self.sent += 1
                yield self.CHUNK
        finally:
            self.closed.set()


def test_a_client_that_stops_reading_a_response_is_cut_off_and_frees_the_thread(
    serve: Callable[..., WebServer],
) -> None:
    app = EndlessDownload()
    web = serve(threads=1, application=app)
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.settimeout(10)
    reader.connect(("127.0.0.1", web.port))
    reader.sendall(b"GET /download HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    # The client reads nothing: the response fills the buffers and the thread waits...
    wait_for(lambda: app.sent > 16, what="the response to fill the buffers")
    # ...until the server gives up on the client and the response ends early.
    assert app.closed.wait(10 + TIMEOUT)
    after = requests.get(f"{web.url}/ok", timeout=5)
    reader.close()

    assert app.sent < EndlessDownload.CHUNKS
    assert (after.status_code, after.text) == (200, "ok")


def echo_client(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']}".encode()]


@pytest.mark.parametrize(
    ("trust_proxy", "seen"), [(False, "127.0.0.1 http"), (True, "198.51.100.7 https")]
)
def test_the_client_address_comes_from_a_proxy_only_when_it_is_trusted(
    settings: Any, serve: Callable[..., WebServer], trust_proxy: bool, seen: str
) -> None:
    settings.USP = dataclasses.replace(settings.USP, trust_proxy=trust_proxy)
    web = serve(application=echo_client)

    response = requests.get(
        web.url,
        headers={"X-Forwarded-For": "203.0.113.1, 198.51.100.7", "X-Forwarded-Proto": "https"},
        timeout=5,
    )

    assert response.text == seen
