"""The data plane's HTTP server: uvicorn (httptools) in a background thread.

The socket is bound when the server is built, so port 0 resolves to a real port before
anything starts; start() and stop() work from any thread and install no signal handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import uvicorn

from storage_service.dataplane.app import DataPlaneApp
from storage_service.uploads import Uploads
from usp.logs import redact_logger

logger = logging.getLogger(__name__)

IO_WORKERS = 32
KEEP_ALIVE_SECONDS = 75
STARTUP_TIMEOUT = 30.0
MIN_GRACE = 0.05


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # protocol says TCP, and small replies would otherwise wait for the peer's ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """A uvicorn server that tells another thread when it is up, and that another thread
    can stop without waiting for uvicorn's 0.1 s polling tick."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop, self._exit = asyncio.get_running_loop(), asyncio.Event()
        await super().startup(sockets=sockets)
        self.up.set()

    async def main_loop(self) -> None:
        assert self._exit is not None
        counter = 0
        # on_tick refreshes the Date header on every tenth tick: tick once a second.
        while not await self.on_tick(counter):
            counter += 10
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), 1.0)

    def request_exit(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._exit is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._exit.set)


class DataPlaneServer:
    def __init__(
        self,
        uploads: Uploads,
        *,
        sock: socket.socket,
        cors_origins: tuple[str, ...],
        timeout: float,
    ) -> None:
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        self._executor = ThreadPoolExecutor(IO_WORKERS, thread_name_prefix="storage-http-io")
        app = DataPlaneApp(
            uploads, executor=self._executor, cors_origins=cors_origins, timeout=timeout
        )
        config = uvicorn.Config(
            app,
            http="httptools",
            loop="asyncio",
            lifespan="off",
            interface="asgi3",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self._server = _Server(config)
        # Access lines are off, but a handler on uvicorn.access turns them on: the upload
        # URL's signature must not reach them.
        redact_logger("uvicorn.access")
        self._thread = threading.Thread(target=self._serve, name="storage-http", daemon=True)

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._server.up.set()  # never leave start() waiting on a server that failed

    def start(self) -> None:
        self._thread.start()
        if not self._server.up.wait(STARTUP_TIMEOUT) or not self._server.started:
            raise RuntimeError("the data plane HTTP server did not start")
        logger.info("data plane started", extra={"fields": {"http_port": self.port}})

    def stop(self, grace: float | None = None) -> None:
        """Stop accepting, let requests finish within `grace` seconds, then cancel them (a
        cancelled upload keeps the bytes it received)."""
        # uvicorn reports a zero grace period as exceeded even with nothing running. It
        # annotates the setting as int but only hands it to asyncio.wait_for.
        grace_seconds = max(grace or 0.0, MIN_GRACE)
        self._server.config.timeout_graceful_shutdown = grace_seconds  # type: ignore[assignment]
        self._server.request_exit()
        if self._thread.is_alive():
            self._thread.join()
        self._socket.close()
        self._executor.shutdown(wait=True)
