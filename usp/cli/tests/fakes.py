"""Small real servers for the CLI's tests: an HTTP server with canned routes and a
gRPC ApiService that replays a script of File messages."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc

from usp.grpc_tls import TlsFiles, add_port
from usp.v1 import api_service_pb2, api_service_pb2_grpc


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeHttpApi:
    """Answers `(method, path-with-query)` with a canned reply; 404 JSON otherwise."""

    routes: dict[tuple[str, str], Reply] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    # Routes answered by code: (method, path prefix) -> handler of the request.
    handlers: dict[tuple[str, str], Callable[[Recorded], Reply]] = field(default_factory=dict)

    def json(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self.routes[(method, path)] = Reply(status, json.dumps(body).encode())

    def raw(self, method: str, path: str, body: bytes, content_type: str) -> None:
        self.routes[(method, path)] = Reply(200, body, content_type)

    def reply(self, method: str, path: str) -> Reply:
        error = {"error": {"code": "not_found", "message": f"no route {path}"}}
        return self.routes.get((method, path), Reply(404, json.dumps(error).encode()))


def _handler(api: FakeHttpApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_HEAD(self) -> None:
            self._answer("HEAD")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(method, self.path, dict(self.headers), body)
            api.requests.append(recorded)
            reply = api.reply(method, self.path)
            for (route_method, prefix), handle in api.handlers.items():
                if route_method == method and self.path.startswith(prefix):
                    reply = handle(recorded)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(reply.body)

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


def serve_http(api: FakeHttpApi, *, tls: TlsFiles | None = None) -> Iterator[FakeHttpApi]:
    """Serve `api` on a free loopback port; over HTTPS with `tls`'s certificate."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    scheme = "http"
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.cert, tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    api.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class ScriptedApiService(api_service_pb2_grpc.ApiServiceServicer):
    """WatchFile sends the scripted messages for a known id and token."""

    def __init__(self, token: str, file_id: str, script: Sequence[api_service_pb2.File]) -> None:
        self.token = token
        self.file_id = file_id
        self.script = list(script)
        self.seen_metadata: list[tuple[str, str]] = []

    def WatchFile(
        self, request: api_service_pb2.WatchFileRequest, context: grpc.ServicerContext
    ) -> Iterator[api_service_pb2.File]:
        self.seen_metadata = list(context.invocation_metadata())
        if ("authorization", f"Token {self.token}") not in self.seen_metadata:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid token")
        if request.id != self.file_id:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such file")
        yield from self.script


def serve_grpc(servicer: ScriptedApiService, *, tls: TlsFiles | None = None) -> Iterator[str]:
    """Serve on a free port (over TLS, as the webapp does, with `tls`); yields the target,
    by the name its certificate carries."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    api_service_pb2_grpc.add_ApiServiceServicer_to_server(servicer, server)
    port = add_port(server, "127.0.0.1:0", tls, require_client_auth=False)
    server.start()
    try:
        yield f"localhost:{port}" if tls else f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


@dataclass
class TusUpload:
    length: int
    data: bytearray = field(default_factory=bytearray)
    completed: bool = False


@dataclass
class FakeTusServer:
    """A tus 1.0.0 data plane in memory: HEAD, PATCH with Upload-Checksum, 404 after
    completion. `faults` is a script of what the next PATCHes meet: None (nothing), an
    HTTP status, or ("cut", n) to keep n bytes of the chunk and drop the connection."""

    uploads: dict[str, TusUpload] = field(default_factory=dict)
    faults: list[int | tuple[str, int] | None] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, upload_id: str, length: int) -> str:
        self.uploads[upload_id] = TusUpload(length)
        return f"{self.url}/files/{upload_id}"

    def patched_bytes(self) -> int:
        return sum(len(r.body) for r in self.requests if r.method == "PATCH")


def _tus_handler(server: FakeTusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:
            upload = self._upload("HEAD", b"")
            if upload is None:
                return
            self._reply(200, {"Upload-Offset": len(upload.data), "Upload-Length": upload.length})

        def do_PATCH(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            fault = server.faults.pop(0) if server.faults else None
            if isinstance(fault, tuple):
                self._cut(fault[1])
                return
            body = self.rfile.read(length)
            upload = self._upload("PATCH", body)
            if upload is None:
                return
            if isinstance(fault, int):
                self._reply(fault, {}, b"try again later")
                return
            self._append(upload, body)

        def _append(self, upload: TusUpload, body: bytes) -> None:
            if int(self.headers["Upload-Offset"]) != len(upload.data):
                self._reply(409, {"Upload-Offset": len(upload.data)}, b"offset mismatch")
                return
            algorithm, _, digest = self.headers.get("Upload-Checksum", "").partition(" ")
            if algorithm != "sha256" or base64.b64decode(digest) != hashlib.sha256(body).digest():
                self._reply(460, {}, b"checksum mismatch")
                return
            with server.lock:
                upload.data.extend(body)
                upload.completed = len(upload.data) == upload.length
            self._reply(204, {"Upload-Offset": len(upload.data)})

        def _cut(self, keep: int) -> None:
            """Store the first `keep` bytes of the chunk, then drop the connection."""
            body = self.rfile.read(min(keep, int(self.headers.get("Content-Length") or 0)))
            upload = self._upload("PATCH", body)
            if upload is not None:
                with server.lock:
                    upload.data.extend(body)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def _upload(self, method: str, body: bytes) -> TusUpload | None:
            server.requests.append(Recorded(method, self.path, dict(self.headers), body))
            upload = server.uploads.get(self.path.rsplit("/", 1)[-1])
            if upload is None or upload.completed:
                self._reply(404, {}, b"no such upload")
                return None
            return upload

        def _reply(self, status: int, headers: dict[str, object], body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Tus-Resumable", "1.0.0")
            for name, value in headers.items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


def serve_tus(server: FakeTusServer) -> Iterator[FakeTusServer]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), _tus_handler(server))
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{http.server_address[1]}"
    try:
        yield server
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=5)


class CuttingProxy:
    """A TCP proxy to a server that, once armed with `cut_after(n)`, drops the client's
    connection when n more bytes have gone from a client towards the server: a network
    failure in the middle of a request."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.target: tuple[str, int] | None = None
        self.cuts = 0
        self._budget: int | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_after(self, count: int) -> None:
        with self._lock:
            self._budget = count

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            assert self.target is not None, "set the proxy's target first"
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump_up, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()

    def _pump_up(self, client: socket.socket, upstream: socket.socket) -> None:
        while data := _recv(client):
            forward, cut = self._take(data)
            upstream.sendall(forward)
            if cut:
                self.cuts += 1
                for sock in (client, upstream):
                    _shut(sock)
                return
        _shut(upstream)

    def _take(self, data: bytes) -> tuple[bytes, bool]:
        with self._lock:
            if self._budget is None or self._budget > len(data):
                if self._budget is not None:
                    self._budget -= len(data)
                return data, False
            forward, self._budget = data[: self._budget], None
            return forward, True


def _pump(source: socket.socket, sink: socket.socket) -> None:
    while data := _recv(source):
        try:
            sink.sendall(data)
        except OSError:
            break
    _shut(sink)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(256 * 1024)
    except OSError:
        return b""


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
