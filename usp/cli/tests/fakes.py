"""Small real servers for the CLI's tests: an HTTP server with canned routes and a
gRPC ApiService that replays a script of File messages."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc

from usp.v1 import api_service_pb2, api_service_pb2_grpc


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


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

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            api.requests.append(Recorded(method, self.path, dict(self.headers), body))
            reply = api.reply(method, self.path)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


def serve_http(api: FakeHttpApi) -> Iterator[FakeHttpApi]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
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


def serve_grpc(servicer: ScriptedApiService) -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    api_service_pb2_grpc.add_ApiServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)
