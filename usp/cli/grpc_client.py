"""The gRPC ApiService as the CLI uses it: plain dataclasses out, CliError on failure.

Only this module touches the generated messages. Every call carries the user's API token
in the `authorization` metadata and a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc

from usp.cli.errors import CliError
from usp.v1 import api_service_pb2, api_service_pb2_grpc, common_pb2

TERMINAL_STATES = frozenset({"ready", "failed", "expired"})


@dataclass(frozen=True)
class JobStatus:
    step: str
    state: str
    attempts: int
    error: str


@dataclass(frozen=True)
class FileStatus:
    id: str
    name: str
    state: str
    jobs: tuple[JobStatus, ...]
    derivatives: tuple[str, ...]

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


def file_state_name(value: int) -> str:
    """FILE_STATE_READY → 'ready', matching the REST API's spelling."""
    return common_pb2.FileState.Name(value).removeprefix("FILE_STATE_").lower()


def job_state_name(value: int) -> str:
    return common_pb2.JobState.Name(value).removeprefix("JOB_STATE_").lower()


def status_from_proto(message: api_service_pb2.File) -> FileStatus:
    return FileStatus(
        id=message.id,
        name=message.name,
        state=file_state_name(message.state),
        jobs=tuple(
            JobStatus(job.step, job_state_name(job.state), job.attempts, job.error)
            for job in message.jobs
        ),
        derivatives=tuple(link.kind for link in message.derivatives),
    )


def grpc_target(grpc_api: str, url: str) -> str:
    """The address to dial: the server's `host:port`, with an unspecified host replaced
    by the host the REST API was reached at."""
    host, sep, port = grpc_api.rpartition(":")
    if not sep or not port.isdigit():
        raise CliError(f"the server announced an unusable gRPC API address {grpc_api!r}")
    if host in ("", "0.0.0.0", "[::]", "::"):  # noqa: S104 - comparing, not binding
        host = urlsplit(url).hostname or "127.0.0.1"
    return f"{host}:{port}"


def _open_channel(target: str, *, tls: bool, ca: str) -> grpc.Channel:
    if not tls:
        return grpc.insecure_channel(target)
    roots = Path(ca).expanduser().read_bytes() if ca else None
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=roots))


class ApiClient:
    """A channel to the webapp's ApiService: over TLS with `tls` (verified against the
    CA certificates of the PEM file `ca`, else the system's), else plaintext."""

    def __init__(
        self,
        target: str,
        token: str,
        *,
        tls: bool = False,
        ca: str = "",
        channel: grpc.Channel | None = None,
    ) -> None:
        self.target = target
        self._channel = channel or _open_channel(target, tls=tls, ca=ca)
        self._stub = api_service_pb2_grpc.ApiServiceStub(self._channel)
        self._metadata = (("authorization", f"Token {token}"),)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def watch_file(self, file_id: str, *, timeout: float) -> Iterator[FileStatus]:
        """The file now, then at each change, until the server ends the stream."""
        request = api_service_pb2.WatchFileRequest(id=file_id)
        try:
            for message in self._stub.WatchFile(request, timeout=timeout, metadata=self._metadata):
                yield status_from_proto(message)
        except grpc.RpcError as error:
            raise self._error(error, file_id=file_id, timeout=timeout) from error

    def _error(self, error: grpc.RpcError, *, file_id: str, timeout: float) -> CliError:
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = (error.details() if isinstance(error, grpc.Call) else "") or ""
        messages = {
            grpc.StatusCode.UNAUTHENTICATED: "the server refused the API token; run `usp login`",
            grpc.StatusCode.NOT_FOUND: f"no file {file_id}",
            grpc.StatusCode.DEADLINE_EXCEEDED: (
                f"gave up waiting for file {file_id} after {timeout:g} s"
            ),
            grpc.StatusCode.UNAVAILABLE: f"cannot reach the gRPC API at {self.target}",
        }
        return CliError(messages.get(code) or details or code.name.lower())
