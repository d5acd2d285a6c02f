"""The benchmark's HTTP client: intents and files on the webapp, tus on the data plane,
multipart through the webapp. Every call checks its status; a failure stops the run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests_toolbelt import MultipartEncoder

from bench.payload import Payload
from usp.cli.tus import TUS_VERSION

SEND_BLOCK = 1024 * 1024
TIMEOUT = (10.0, 900.0)
SETTLED_STATES = frozenset({"ready", "failed"})
# The header every data-plane request carries.
TUS = {"Tus-Resumable": TUS_VERSION}


class LargeBlockAdapter(HTTPAdapter):
    """Sends file-like request bodies in 1 MiB reads instead of urllib3's 16 KiB, so the
    client's Python loop is not what the figures measure."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["blocksize"] = SEND_BLOCK
        super().init_poolmanager(*args, **kwargs)


def authorization(token: str) -> dict[str, str]:
    """The header an API request carries for `token`."""
    return {"Authorization": f"Token {token}"}


def session(token: str = "") -> requests.Session:
    http = requests.Session()
    http.mount("http://", LargeBlockAdapter(pool_maxsize=64))
    if token:
        http.headers.update(authorization(token))
    return http


class RefusedError(RuntimeError):
    """The server refused the request as too large (413)."""


def check(response: requests.Response, *expected: int) -> requests.Response:
    if response.status_code not in expected:
        error = RefusedError if response.status_code == 413 else RuntimeError
        raise error(
            f"{response.request.method} {response.url} answered {response.status_code}: "
            f"{response.text[:500]}"
        )
    return response


class BenchClient:
    """One user's view of the system: the webapp at `url`, and the data plane wherever
    the intents' upload URLs point."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.api = session(token)
        self.data_plane = session()
        self.data_plane.headers.update(TUS)

    def close(self) -> None:
        self.api.close()
        self.data_plane.close()

    def intent(self, name: str, size: int, *, pipeline: Sequence[str] = ()) -> dict[str, Any]:
        """An upload intent; an empty `pipeline` leaves the file type's default."""
        body: dict[str, Any] = {"name": name, "size": size}
        if pipeline:
            body["pipeline"] = list(pipeline)
        response = self.api.post(f"{self.url}/api/v1/uploads/", json=body, timeout=TIMEOUT)
        return dict(check(response, 201).json())

    def tus_patch(self, upload_url: str, payload: Payload) -> None:
        """The whole payload in one PATCH whose body is a generator of its blocks."""
        headers = {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        response = self.data_plane.patch(
            upload_url, data=payload.blocks(), headers=headers, timeout=TIMEOUT
        )
        check(response, 204)
        if int(response.headers["Upload-Offset"]) != payload.size:
            raise RuntimeError(f"the upload ended at {response.headers['Upload-Offset']}")

    def put(self, upload_url: str, data: bytes) -> None:
        check(self.data_plane.put(upload_url, data=data, timeout=TIMEOUT), 200, 201, 204)

    def multipart(self, name: str, payload: Payload) -> dict[str, Any]:
        encoder = MultipartEncoder(
            fields={"file": (name, payload.stream(), "application/octet-stream")}
        )
        response = self.api.post(
            f"{self.url}/api/v1/files/",
            data=encoder,
            headers={"Content-Type": encoder.content_type},
            timeout=TIMEOUT,
        )
        return dict(check(response, 201).json())

    def file(self, file_id: str) -> dict[str, Any]:
        response = self.api.get(f"{self.url}/api/v1/files/{file_id}/", timeout=TIMEOUT)
        return dict(check(response, 200).json())

    def wait_settled(self, file_id: str, timeout: float = 900.0) -> dict[str, Any]:
        """The file once its processing has ended, so the next measurement has the
        machine to itself."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            resource = self.file(file_id)
            if resource["state"] in SETTLED_STATES:
                return resource
            if time.monotonic() > deadline:
                raise RuntimeError(f"file {file_id} still {resource['state']} after {timeout}s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
