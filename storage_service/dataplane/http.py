"""Plain ASGI plumbing for the data plane: requests, responses, CORS and tus headers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
METHODS = "POST, HEAD, PATCH, PUT, DELETE, OPTIONS"
ALLOWED_HEADERS = (
    "Authorization, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, "
    "Content-Type, Upload-Length, Upload-Offset, Tus-Resumable, Upload-Metadata, "
    "Upload-Defer-Length, Upload-Concat, Upload-Checksum"
)
EXPOSED_HEADERS = (
    "Upload-Offset, Upload-Length, Upload-Expires, Location, Tus-Version, Tus-Resumable, "
    "Tus-Max-Size, Tus-Extension, Tus-Checksum-Algorithm, Upload-Metadata, "
    "Upload-Defer-Length, Upload-Concat"
)
PREFLIGHT_MAX_AGE = "86400"


class BadHeader(ValueError):
    """A request header is missing or malformed (answered with 400)."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lowercase names

    @classmethod
    def from_scope(cls, scope: Scope) -> Request:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query: dict[str, str] = {}
        for key, value in parse_qsl(scope["query_string"].decode("latin-1"), True):
            query.setdefault(key, value)
        method = scope["method"].upper()
        override = headers.get("x-http-method-override", "").strip().upper()
        if method == "POST" and override:
            method = override
        return cls(method, scope["path"], query, headers)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def int_header(self, name: str) -> int | None:
        """A non-negative whole number header, None when absent; BadHeader when malformed."""
        value = self.headers.get(name)
        if value is None:
            return None
        if not value.strip().isdigit():
            raise BadHeader(f"the {name.title()} header must be a non-negative whole number")
        return int(value)

    def required_int_header(self, name: str) -> int:
        value = self.int_header(name)
        if value is None:
            raise BadHeader(f"the {name.title()} header is required")
        return value

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def has_body(self) -> bool:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return True
        return bool(self.int_header("content-length"))


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class Cors:
    """Cross-origin headers for the configured origins ("*" allows any origin)."""

    def __init__(self, origins: Sequence[str]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(origin.rstrip("/") for origin in origins)

    def allows(self, origin: str) -> bool:
        return self._any or origin.rstrip("/") in self._origins

    def headers(self, request: Request) -> dict[str, str]:
        """For an actual request: let an allowed origin read the response and its headers."""
        origin = request.header("origin")
        if origin is None or not self.allows(origin):
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            "Vary": "Origin",
        }

    def preflight(self, request: Request) -> dict[str, str] | None:
        """For a preflight: the allowances, or None when the origin is not allowed."""
        origin = request.header("origin")
        if origin is None or not self.allows(origin):
            return None
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        }

    @staticmethod
    def is_preflight(request: Request) -> bool:
        return (
            request.method == "OPTIONS"
            and "origin" in request.headers
            and "access-control-request-method" in request.headers
        )


class Responder:
    """Sends the one response of a request, with the headers every response carries."""

    def __init__(self, send: Send, common: Mapping[str, str]) -> None:
        self._send = send
        self._common = dict(common)
        self.sent = False

    async def respond(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        *,
        content_type: str = "",
        close: bool = False,
    ) -> None:
        merged = {**self._common, **(headers or {})}
        if content_type:
            merged["Content-Type"] = content_type
        if close:
            merged["Connection"] = "close"
        if status not in (204, 304):
            merged["Content-Length"] = str(len(body))
        self.sent = True
        await self._send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in merged.items()],
            }
        )
        await self._send({"type": "http.response.body", "body": body})

    async def error(
        self, status: int, code: str, message: str, *, head: bool = False, close: bool = False
    ) -> None:
        body = b"" if head else error_body(code, message)
        await self.respond(status, body=body, content_type="application/json", close=close)
