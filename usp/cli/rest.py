"""The REST API as the CLI uses it: one session, the token on every request, JSON errors.

Uploads stream the file as multipart (never read into memory) and report progress;
downloads stream in chunks.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import requests
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from usp.cli.errors import ApiError, CliError

USER_AGENT = "usp-cli/0.1"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
# After the last byte of an upload the server still has to commit it to storage.
UPLOAD_READ_TIMEOUT = 600.0
DOWNLOAD_CHUNK = 1024 * 1024
# A throttled request (429) is sent again after the server's Retry-After, this many
# times, when the wait is this short; longer waits are the caller's to decide.
THROTTLE_RETRIES = 5
MAX_RETRY_AFTER = 60.0

Resource = dict[str, Any]


class RestClient:
    """Calls `<url>/api/v1/…` with `Authorization: Token <token>`; with `ca`, trusts the
    CA certificates of that PEM file instead of the system's."""

    def __init__(
        self, url: str, token: str, *, ca: str = "", session: requests.Session | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._session = session or requests.Session()
        if ca:
            self._session.verify = ca
        self._session.headers["User-Agent"] = USER_AGENT
        if token:
            self._session.headers["Authorization"] = f"Token {token}"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def root(self) -> Resource:
        """The API root: links to files and schema, and the gRPC API address."""
        return self._json("GET", self.api_url(""))

    def verify_token(self) -> Resource:
        """The API root, once the token has been accepted by an endpoint that needs it."""
        root = self.root()
        self._json("GET", self.api_url("files/"))
        return root

    def get_file(self, file_id: str) -> Resource:
        return self._json("GET", self.file_url(file_id))

    def iter_files(self) -> Iterator[Resource]:
        """Every file of the caller, newest first, following the pages."""
        next_url: str | None = self.api_url("files/")
        while next_url:
            page = self._json("GET", next_url)
            yield from page.get("results", [])
            next_url = page.get("next")

    def iter_jobs(self, *, state: str = "", step: str = "") -> Iterator[Resource]:
        """The caller's current jobs, newest first, optionally filtered, every page."""
        params = {name: value for name, value in (("state", state), ("step", step)) if value}
        next_url: str | None = self.api_url("jobs/")
        while next_url:
            page = self._json("GET", next_url, params=params)
            yield from page.get("results", [])
            next_url = page.get("next")
            params = {}  # the next link carries the filters

    def retry_job(self, job_id: str) -> Resource:
        """Run a failed job again; the job, queued."""
        return self._json("POST", self.api_url(f"jobs/{quote(job_id, safe='')}/retry/"))

    def reprocess_file(self, file_id: str, *, steps: Sequence[str] = ()) -> Resource:
        """Process a stored file again (its current steps, or `steps`); the file."""
        body: dict[str, Any] = {"steps": list(steps)} if steps else {}
        return self._json("POST", self.file_url(file_id) + "reprocess/", json=body)

    def upload(
        self,
        path: Path,
        *,
        pipeline: Sequence[str] = (),
        on_progress: Callable[[int, int], None] | None = None,
    ) -> Resource:
        """POST the file as multipart, streamed; `on_progress(sent, total)` as bytes go out."""
        with path.open("rb") as handle:
            fields: dict[str, Any] = {"file": (path.name, handle, _content_type(path))}
            if pipeline:
                fields["pipeline"] = ",".join(pipeline)
            monitor = MultipartEncoderMonitor(
                MultipartEncoder(fields=fields),
                (lambda m: on_progress(m.bytes_read, m.len)) if on_progress else None,
            )
            return self._json(
                "POST",
                self.api_url("files/"),
                data=monitor,
                headers={"Content-Type": monitor.content_type},
                timeout=(CONNECT_TIMEOUT, UPLOAD_READ_TIMEOUT),
            )

    def create_upload(
        self,
        *,
        name: str,
        size: int,
        sha256: str = "",
        pipeline: Sequence[str] = (),
        idempotency_key: str = "",
    ) -> Resource:
        """An upload intent: the server checks size, type and quota, creates the file and
        answers with its signed `upload_url`. The same Idempotency-Key gets the same."""
        body: dict[str, Any] = {"name": name, "size": size}
        if sha256:
            body["sha256"] = sha256
        if pipeline:
            body["pipeline"] = list(pipeline)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._json("POST", self.api_url("uploads/"), json=body, headers=headers)

    def download(self, resource: Resource) -> Iterator[bytes]:
        """The bytes of a file's content, in chunks, as they arrive."""
        url = urljoin(f"{self.url}/", resource.get("content_url") or "")
        if not resource.get("content_url"):
            url = self.file_url(str(resource["id"])) + "content"
        response = self._request("GET", url, stream=True)
        with response:
            try:
                yield from response.iter_content(chunk_size=DOWNLOAD_CHUNK)
            except requests.RequestException as exc:
                raise CliError(f"the download of {url} broke off: {exc}") from exc

    def api_url(self, path: str) -> str:
        return f"{self.url}/api/v1/{path}"

    def file_url(self, file_id: str) -> str:
        return self.api_url(f"files/{quote(file_id, safe='')}/")

    def _json(self, method: str, url: str, **kwargs: Any) -> Resource:
        response = self._request(method, url, **kwargs)
        try:
            body = response.json()
        except ValueError as exc:
            raise CliError(f"{url} did not answer with JSON (HTTP {response.status_code})") from exc
        if not isinstance(body, dict):
            raise CliError(f"{url} answered with unexpected JSON")
        return body

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """The response to a request; a throttled one (429) waits as the server asks and
        is sent again, unless its body was a stream that cannot be replayed."""
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        replayable = "data" not in kwargs
        for _attempt in range(THROTTLE_RETRIES):
            response = self._send(method, url, **kwargs)
            delay = retry_after(response)
            if delay is None or not replayable:
                break
            response.close()
            time.sleep(delay)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session's CA, not this.
        kwargs.setdefault("verify", self._session.verify)
        try:
            return self._session.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            raise Unreachable(f"cannot reach {self.url}: {_reason(exc)}") from exc
        except requests.Timeout as exc:
            raise Unreachable(f"{self.url} did not answer in time") from exc
        except requests.RequestException as exc:
            raise CliError(f"request to {url} failed: {exc}") from exc


class Unreachable(CliError):
    """The server could not be reached or did not answer in time."""


TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


def retry_after(response: requests.Response) -> float | None:
    """Seconds a throttled response (429) asks to wait, when given and short enough."""
    if response.status_code != 429:
        return None
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER else None


def is_transient(error: CliError) -> bool:
    """Whether trying the same request again later may succeed."""
    if isinstance(error, Unreachable):
        return True
    return isinstance(error, ApiError) and error.status in TRANSIENT_STATUSES


def error_from_response(response: requests.Response) -> ApiError:
    """The server's own message from `{"error": {"code", "message"}}` when it sent one."""
    status = response.status_code
    code, message = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code", ""))
        message = str(body["error"].get("message", ""))
    elif isinstance(body, dict) and "detail" in body:
        message = str(body["detail"])
    if not message:
        message = f"HTTP {status} {response.reason or ''}".strip() + f" from {response.url}"
    response.close()
    return ApiError(message, status=status, code=code)


def _content_type(path: Path) -> str:
    guessed, _encoding = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _reason(exc: requests.ConnectionError) -> str:
    """The innermost cause, e.g. 'Connection refused', rather than urllib3's wrapping."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause)
    return text.split("] ", 1)[-1] if "] " in text else text
