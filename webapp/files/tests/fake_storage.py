"""An in-memory StorageService on a real gRPC server: a test double of the contract.

It verifies declared sizes, sniffs a few types (and applies allowed_types to them),
dispatches the default pipeline for originals, dispatches jobs again (retries and
reprocesses, recorded but never run), opens and aborts upload sessions (their URLs point
nowhere: the data plane is not faked) and keeps everything in dictionaries.
Tests of the webapp run against it because the webapp must not import the storage service.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from usp.grpc_auth import ServiceTokenInterceptor
from usp.storage_client import SERVICE_NAME
from usp.v1 import common_pb2, storage_service_pb2, storage_service_pb2_grpc

READ_CHUNK = 64 * 1024
UPLOAD_BASE_URL = "http://127.0.0.1:8001/uploads/"
DEFAULT_EXPIRY = 86_400
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def sniff(data: bytes) -> str:
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain" if data else "application/x-empty"


def type_allowed(content_type: str, patterns: list[str]) -> bool:
    major = content_type.split("/", 1)[0]
    return not patterns or any(p in ("*/*", content_type, f"{major}/*") for p in patterns)


def default_pipeline(content_type: str) -> list[str]:
    if content_type.startswith("image/"):
        return ["metadata", "checksum", "image.thumbnail"]
    return ["metadata", "checksum"]


@dataclass
class FakeStorage(storage_service_pb2_grpc.StorageServiceServicer):
    """The servicer; its dictionaries are what tests assert on."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, set[str]] = field(default_factory=dict)
    headers: list[storage_service_pb2.WriteHeader] = field(default_factory=list)
    # The steps each stored write named, in its header or its trailer.
    pipelines: list[list[str]] = field(default_factory=list)
    # Open upload sessions by file id, with the requests that opened them.
    sessions: dict[str, storage_service_pb2.UploadSession] = field(default_factory=dict)
    session_requests: list[storage_service_pb2.CreateUploadSessionRequest] = field(
        default_factory=list
    )
    aborted: list[str] = field(default_factory=list)
    # (sha256, offset, length) of every ReadObject.
    reads: list[tuple[str, int, int]] = field(default_factory=list)
    # When set, every write is refused with this status and message.
    refuse_writes: tuple[grpc.StatusCode, str] | None = None
    # When set, every CreateUploadSession is refused with this status and message.
    refuse_sessions: tuple[grpc.StatusCode, str] | None = None
    # Every DispatchJobs request (retries and reprocesses), in order.
    dispatches: list[storage_service_pb2.DispatchJobsRequest] = field(default_factory=list)
    # When set, every DispatchJobs is refused with this status and message.
    refuse_dispatches: tuple[grpc.StatusCode, str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def WriteObject(
        self,
        request_iterator: Iterator[storage_service_pb2.WriteObjectRequest],
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.WriteObjectResponse:
        first = next(request_iterator, None)
        if first is None or not first.HasField("header"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be a header")
            raise AssertionError("abort raises")
        header = first.header
        if self.refuse_writes:
            context.abort(*self.refuse_writes)
        data, pipeline = _write_stream(request_iterator, header)
        if pipeline is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the stream ended before its trailer")
            raise AssertionError("abort raises")
        if header.HasField("declared_size") and header.declared_size != len(data):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "size differs from the declared size")
        sha256 = hashlib.sha256(data).hexdigest()
        if header.declared_sha256 and header.declared_sha256 != sha256:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "SHA-256 differs from the declared one")
        content_type = sniff(data)
        if not type_allowed(content_type, list(header.allowed_types)):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"type_not_allowed: {content_type} is not one of {', '.join(header.allowed_types)}",
            )
        with self.lock:
            created = sha256 not in self.blobs
            self.blobs[sha256] = data
            self.files.setdefault(header.file_id, set()).add(sha256)
            self.headers.append(header)
            self.pipelines.append(pipeline)
        steps = pipeline or default_pipeline(content_type)
        return storage_service_pb2.WriteObjectResponse(
            object=_info(sha256, len(data), content_type),
            jobs=[common_pb2.JobRef(job_id=str(uuid.uuid4()), step=step) for step in steps],
            created=created,
        )

    def ReadObject(
        self, request: storage_service_pb2.ReadObjectRequest, context: grpc.ServicerContext
    ) -> Iterator[storage_service_pb2.ReadObjectResponse]:
        with self.lock:
            self.reads.append((request.checksum.sha256, request.offset, request.length))
        data = self._blob(request.checksum.sha256, context)
        end = request.offset + request.length if request.length else len(data)
        for start in range(request.offset, end, READ_CHUNK):
            yield storage_service_pb2.ReadObjectResponse(
                chunk=data[start : min(end, start + READ_CHUNK)]
            )

    def StatObject(
        self, request: storage_service_pb2.StatObjectRequest, context: grpc.ServicerContext
    ) -> common_pb2.ObjectInfo:
        data = self._blob(request.checksum.sha256, context)
        return _info(request.checksum.sha256, len(data), sniff(data))

    def DeleteFile(
        self, request: storage_service_pb2.DeleteFileRequest, context: grpc.ServicerContext
    ) -> storage_service_pb2.DeleteFileResponse:
        with self.lock:
            self.files.pop(request.file_id, None)
            referenced = set().union(*self.files.values()) if self.files else set()
            orphans = [sha for sha in self.blobs if sha not in referenced]
            for sha in orphans:
                del self.blobs[sha]
        return storage_service_pb2.DeleteFileResponse(blobs_removed=len(orphans))

    def CreateUploadSession(
        self,
        request: storage_service_pb2.CreateUploadSessionRequest,
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.UploadSession:
        if self.refuse_sessions:
            context.abort(*self.refuse_sessions)
        with self.lock:
            self.session_requests.append(request)
            session = self.sessions.get(request.file_id)
            if session is None:
                session = _new_session(request)
                self.sessions[request.file_id] = session
        return session

    def AbortUploadSession(
        self,
        request: storage_service_pb2.AbortUploadSessionRequest,
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.AbortUploadSessionResponse:
        with self.lock:
            session = self.sessions.pop(request.file_id, None)
            if session is not None:
                self.aborted.append(request.file_id)
        return storage_service_pb2.AbortUploadSessionResponse(aborted=session is not None)

    def DispatchJobs(
        self, request: storage_service_pb2.DispatchJobsRequest, context: grpc.ServicerContext
    ) -> storage_service_pb2.DispatchJobsResponse:
        """A job with an id keeps it (a retry); one without gets a new id (a reprocess)."""
        if self.refuse_dispatches:
            context.abort(*self.refuse_dispatches)
        with self.lock:
            self.dispatches.append(request)
        jobs = [
            common_pb2.JobRef(job_id=job.job_id or str(uuid.uuid4()), step=job.step)
            for job in request.jobs
        ]
        return storage_service_pb2.DispatchJobsResponse(jobs=jobs)

    def _blob(self, sha256: str, context: grpc.ServicerContext) -> bytes:
        with self.lock:
            data = self.blobs.get(sha256)
        if data is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such object")
            raise AssertionError("abort raises")
        return data


def _info(sha256: str, size: int, content_type: str) -> common_pb2.ObjectInfo:
    return common_pb2.ObjectInfo(
        checksum=common_pb2.Checksum(sha256=sha256), size=size, content_type=content_type
    )


def _new_session(
    request: storage_service_pb2.CreateUploadSessionRequest,
) -> storage_service_pb2.UploadSession:
    session_id = uuid.uuid4().hex
    seconds = request.expires_in_seconds or DEFAULT_EXPIRY
    session = storage_service_pb2.UploadSession(
        session_id=session_id,
        upload_url=f"{UPLOAD_BASE_URL}{session_id}?sig=fake",
        max_size=request.size,
        offset=0,
    )
    session.expires_at.FromDatetime(
        datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
    )
    return session


@dataclass
class FakeStorageServer:
    server: grpc.Server
    port: int
    storage: FakeStorage
    health: health.HealthServicer

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else (health_pb2.HealthCheckResponse.NOT_SERVING)
        )
        self.health.set(SERVICE_NAME, status)

    def stop(self) -> None:
        self.server.stop(grace=None).wait()


def start_fake_storage(token: str) -> FakeStorageServer:
    """A fake storage on 127.0.0.1, on a free port, refusing calls without `token`."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=[ServiceTokenInterceptor(token)],
    )
    storage = FakeStorage()
    storage_service_pb2_grpc.add_StorageServiceServicer_to_server(storage, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    running = FakeStorageServer(server, port, storage, health_servicer)
    running.set_serving(True)
    return running


def _write_stream(
    requests: Iterator[storage_service_pb2.WriteObjectRequest],
    header: storage_service_pb2.WriteHeader,
) -> tuple[bytes, list[str] | None]:
    """The bytes after a WriteObject header and the steps named in its header or, when
    one came, its trailer; None for the steps when the trailer it promised never came."""
    chunks: list[bytes] = []
    pipeline = None if header.trailer_follows else list(header.pipeline)
    for request in requests:
        if request.HasField("trailer"):
            pipeline = list(request.trailer.pipeline)
        else:
            chunks.append(request.chunk)
    return b"".join(chunks), pipeline
