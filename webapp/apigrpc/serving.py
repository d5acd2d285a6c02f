"""Running the webapp's two front doors in one process: the web server (waitress) and the
gRPC ApiService. Each starts in background threads and stops from any thread, so a
supervisor can compose them with the other services; `serve` is the blocking form.

Django must be set up (django.setup()) before anything here is called.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from waitress import wasyncore
from waitress.server import create_server as create_wsgi_server

from webapp.apigrpc.server import create_server
from webapp.apigrpc.servicer import ApiServicer
from webapp.files.live import streams_end_all

logger = logging.getLogger(__name__)

WEB_THREADS = 8
DEFAULT_GRACE = 10.0
_LOOP_TIMEOUT = 1.0
_DRAIN_TIMEOUT = 0.05
# Room for the multipart framing around the largest file a request may carry.
MULTIPART_OVERHEAD = 1024 * 1024
# Bytes per socket read. waitress's default (8 KiB) spends more time looping than
# receiving when a large upload comes in.
RECV_BYTES = 256 * 1024


class WebServer:
    """waitress serving the Django application on a loop thread of its own."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = WEB_THREADS,
        application: Callable[..., Any] | None = None,
        timeout: int | None = None,
    ) -> None:
        self._timeout = settings.USP.web_timeout if timeout is None else timeout
        self._server = create_wsgi_server(
            application or get_wsgi_application(),
            host=host,
            port=port,
            threads=threads,
            clear_untrusted_proxy_headers=True,
            ident="usp",
            max_request_body_size=settings.USP.max_upload_size + MULTIPART_OVERHEAD,
            recv_bytes=RECV_BYTES,
            # Reading one request ahead lets waitress see a client close its connection
            # while a response streams, so a live status stream frees its thread at once.
            channel_request_lookahead=1,
            # waitress reads requests (bodies too) on its loop thread, never a worker's:
            # a connection that sends nothing for this long is closed.
            channel_timeout=self._timeout,
            cleanup_interval=_check_interval(self._timeout),
            **_proxy_options(trusted=settings.USP.trust_proxy),
        )
        self._next_check = 0.0
        self.host = host
        self.port = int(self._server.effective_port)  # waitress gives the text of it
        self._stopping = threading.Event()
        self._grace = DEFAULT_GRACE
        self._thread = threading.Thread(target=self._run, name="usp-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        logger.info("web server started", extra={"fields": {"url": self.url}})

    def stop(self, grace: float = DEFAULT_GRACE) -> None:
        """Stop accepting, let requests in progress finish within `grace`, then close.
        Live status streams would never finish by themselves: they end now (their
        browsers reconnect to whichever server is up next)."""
        self._grace = grace
        self._stopping.set()
        streams_end_all()
        self._server.pull_trigger()
        if self._thread.is_alive():
            self._thread.join()
        logger.info("web server stopped", extra={"fields": {"url": self.url}})

    def _run(self) -> None:
        socket_map = self._server._map
        while not self._stopping.is_set():
            wasyncore.loop(timeout=_LOOP_TIMEOUT, use_poll=True, map=socket_map, count=1)
            self._close_stalled_readers()
        self._drain(socket_map)

    def _close_stalled_readers(self) -> None:
        """Close connections whose client has taken no byte of a response for the
        timeout. The response's worker thread waits for room to write (past waitress's
        high-water mark), and waitress's own idle check skips connections with a request
        in progress: closing frees the thread (its write raises ClientDisconnected)."""
        now = time.time()
        if now < self._next_check:
            return
        self._next_check = now + _check_interval(self._timeout)
        for channel in list(self._server.active_channels.values()):
            if channel.total_outbufs_len and now - channel.last_activity > self._timeout:
                logger.info(
                    "closing a connection whose client stopped reading",
                    extra={"fields": {"client": channel.addr[0] if channel.addr else ""}},
                )
                channel.handle_close()

    def _drain(self, socket_map: dict[int, Any]) -> None:
        # waitress has no public graceful stop: stop accepting, keep the loop running
        # while a channel still has a request or unsent output, then close everything.
        self._server.accepting = False
        deadline = time.monotonic() + self._grace
        while time.monotonic() < deadline and _busy(self._server):
            wasyncore.loop(timeout=_DRAIN_TIMEOUT, use_poll=True, map=socket_map, count=1)
        self._server.task_dispatcher.shutdown(timeout=max(0.0, deadline - time.monotonic()))
        wasyncore.close_all(socket_map)


def _check_interval(timeout: int) -> int:
    """How often idle and stalled connections are looked for: a few times per timeout."""
    return max(1, min(30, timeout // 4))


def _proxy_options(*, trusted: bool) -> dict[str, Any]:
    """Behind a trusted proxy (USP_TRUST_PROXY) the client's address and scheme come from
    the X-Forwarded-For and X-Forwarded-Proto it sets (the last hop only): the address
    the rate limits count, and https for Django. Otherwise waitress drops those headers."""
    if not trusted:
        return {}
    return {
        "trusted_proxy": "*",
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
    }


def _busy(server: Any) -> bool:
    return any(
        channel.requests or channel.total_outbufs_len
        for channel in list(server.active_channels.values())
    )


class ApiServer:
    """The gRPC ApiService; stop() ends open watches first, then the server."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._servicer = ApiServicer(public_url=settings.USP.public_url)
        self._server, self.port = create_server(
            f"{host}:{port}", servicer=self._servicer, tls=settings.USP.grpc_tls
        )
        self.host = host
        self.tls = settings.USP.grpc_tls is not None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def grpc_server(self) -> grpc.Server:
        return self._server

    def start(self) -> None:
        self._server.start()
        logger.info("gRPC API started", extra={"fields": {"target": self.target, "tls": self.tls}})

    def stop(self, grace: float = DEFAULT_GRACE) -> None:
        self._servicer.close()
        self._server.stop(grace).wait()
        logger.info("gRPC API stopped", extra={"fields": {"target": self.target}})


def start_web(port: int, *, host: str = "127.0.0.1", threads: int = WEB_THREADS) -> WebServer:
    """Serve the webapp over HTTP in background threads; `.port` is the bound port
    (pass 0 for a free one), `.stop(grace)` stops it."""
    server = WebServer(host=host, port=port, threads=threads)
    server.start()
    return server


def start_api(port: int, *, host: str = "127.0.0.1") -> ApiServer:
    """Serve the gRPC ApiService in background threads; `.port`, `.stop(grace)`."""
    server = ApiServer(host=host, port=port)
    server.start()
    return server


def serve(
    *,
    web_port: int,
    api_port: int,
    web_host: str = "127.0.0.1",
    api_host: str = "127.0.0.1",
    grace: float = DEFAULT_GRACE,
    on_started: Callable[[WebServer, ApiServer], None] | None = None,
) -> None:
    """Run both until SIGTERM or SIGINT (main thread only), then stop them gracefully."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _frame: _request_stop(stopping, signum))
    api = start_api(api_port, host=api_host)
    try:
        web = start_web(web_port, host=web_host)
    except BaseException:
        api.stop(0)
        raise
    if on_started is not None:
        on_started(web, api)
    stopping.wait()
    web.stop(grace)
    api.stop(grace)


def _request_stop(stopping: threading.Event, signum: int) -> None:
    logger.info("stop requested", extra={"fields": {"signal": signum}})
    stopping.set()
