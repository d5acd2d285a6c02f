"""The part of tus 1.0.0 the CLI speaks: HEAD for the offset, PATCH for a chunk.

The upload location is signed by the server, so these requests carry no API token:
the data plane may be another host and must never see the user's credential.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import requests

TUS_VERSION = "1.0.0"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
# The last PATCH returns only once the server has verified and committed the upload.
COMMIT_READ_TIMEOUT = 600.0
SEND_BLOCK = 256 * 1024

# 409: another offset than ours (an earlier attempt got further than we knew);
# 423: another request still holds the upload; 460: the chunk arrived damaged.
RESYNC_STATUSES = frozenset({409, 423, 460})


class TusError(Exception):
    """A tus request failed. `transient` says whether trying again may help."""

    def __init__(self, message: str, *, status: int = 0, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.transient = transient

    def __str__(self) -> str:
        return self.message


class Cancelled(Exception):
    """The transfer was stopped on purpose (Ctrl-C in another thread)."""


@dataclass(frozen=True)
class UploadState:
    offset: int
    length: int | None


class ChunkBody:
    """A chunk as a request body with a known length, reporting bytes as they are sent.

    requests sends a file-like object with a length with a Content-Length header, read
    block by block, so progress moves during a chunk and not only after it.
    """

    def __init__(
        self,
        data: bytes,
        on_sent: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self._view = memoryview(data)
        self._position = 0
        self._on_sent = on_sent
        self._cancel = cancel

    def __len__(self) -> int:
        return len(self._view)

    def read(self, size: int = -1) -> bytes:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled()
        end = len(self._view) if size < 0 else min(len(self._view), self._position + size)
        block = self._view[self._position : end].tobytes()
        self._position = end
        if block and self._on_sent:
            self._on_sent(len(block))
        return block


def checksum_header(data: bytes) -> str:
    """`Upload-Checksum: sha256 <base64 digest>` for one chunk."""
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


class TusClient:
    """HEAD and PATCH on upload URLs, over one requests session without credentials
    (trusting the CA certificates of the PEM file `ca` when given)."""

    def __init__(self, session: requests.Session | None = None, *, ca: str = "") -> None:
        self._session = session or requests.Session()
        if ca:
            self._session.verify = ca
        self._session.headers["Tus-Resumable"] = TUS_VERSION

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> TusClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def state(self, url: str) -> UploadState:
        """The server's offset (and declared length) for the upload at `url`."""
        response = self._send("HEAD", url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        _raise_for_status(response, url)
        offset = _int_header(response, "Upload-Offset")
        if offset is None:
            raise TusError(f"{url} answered HEAD without an Upload-Offset")
        return UploadState(offset=offset, length=_int_header(response, "Upload-Length"))

    def patch(
        self,
        url: str,
        *,
        offset: int,
        data: bytes,
        on_sent: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """Send `data` at `offset`; returns the server's new offset."""
        headers = {
            "Content-Type": OFFSET_CONTENT_TYPE,
            "Upload-Offset": str(offset),
            "Upload-Checksum": checksum_header(data),
        }
        response = self._send(
            "PATCH",
            url,
            data=ChunkBody(data, on_sent, cancel),
            headers=headers,
            timeout=(CONNECT_TIMEOUT, COMMIT_READ_TIMEOUT),
        )
        _raise_for_status(response, url)
        new_offset = _int_header(response, "Upload-Offset")
        return offset + len(data) if new_offset is None else new_offset

    def _send(self, method: str, url: str, **kwargs: object) -> requests.Response:
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session's CA, not this.
        kwargs.setdefault("verify", self._session.verify)
        try:
            response = self._session.request(method, url, **kwargs)  # type: ignore[arg-type]
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TusError(f"{method} {url} failed: {_reason(exc)}", transient=True) from exc
        except requests.RequestException as exc:
            raise TusError(f"{method} {url} failed: {exc}", transient=True) from exc
        response.close()
        return response


def _raise_for_status(response: requests.Response, url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    transient = status >= 500 or status in RESYNC_STATUSES
    raise TusError(_message(response), status=status, transient=transient)


def _message(response: requests.Response) -> str:
    """The server's reason: its JSON error envelope, a plain-text body, or the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message") or body["error"].get("code") or "")
        if message:
            return message
    text = response.text.strip() if response.content else ""
    if text and len(text) <= 300 and "<" not in text:
        return text
    return f"HTTP {response.status_code} {response.reason or ''}".strip()


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _reason(exc: requests.RequestException) -> str:
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause) or type(cause).__name__
    return text.split("] ", 1)[-1] if "] " in text else text
