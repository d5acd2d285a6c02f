"""The client of the storage service's gRPC API, used by the webapp and the processor.

Callers get plain dataclasses and `ServiceError`; only this module touches the
generated storage messages. Every call carries the service token and a deadline.
"""

from __future__ import annotations

import contextlib
import logging
import queue
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import grpc
import grpc.experimental
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from usp.errors import ServiceError
from usp.grpc_auth import service_metadata
from usp.grpc_tls import TlsFiles, open_channel
from usp.v1 import common_pb2, storage_service_pb2, storage_service_pb2_grpc

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024  # the contract's largest chunk
SERVICE_NAME = "usp.v1.StorageService"


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class DispatchedJob:
    job_id: str
    step: str


@dataclass(frozen=True)
class WriteResult:
    object: StoredObject
    jobs: list[DispatchedJob]
    created: bool


@dataclass(frozen=True)
class UploadSessionInfo:
    """A resumable upload session: where the bytes go, until when, how many at most."""

    session_id: str
    upload_url: str
    expires_at: datetime
    max_size: int
    offset: int


@dataclass(frozen=True)
class StoredDerivative:
    kind: str
    object: StoredObject


@dataclass(frozen=True)
class DerivativeUpload:
    """A derivative to store: its kind, its bytes in pieces of any size, and what the
    caller declares of them (a different size or SHA-256 is refused)."""

    kind: str
    chunks: Iterable[bytes]
    size: int | None = None
    sha256: str = ""


@dataclass(frozen=True)
class ResultKey:
    """Names a step's result: the same content, step, version and options (digested)
    give the same result."""

    input_sha256: str
    step: str
    version: int
    options_digest: str


@dataclass(frozen=True)
class RememberedResult:
    """A step's result remembered by storage: what it learned and what it stored."""

    key: ResultKey
    metadata: dict[str, Any]
    derivatives: list[StoredDerivative]


def iter_chunks(stream: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Read a binary stream in chunks of at most `size` bytes."""
    while chunk := stream.read(size):
        yield chunk


def object_from_proto(info: common_pb2.ObjectInfo) -> StoredObject:
    return StoredObject(info.checksum.sha256, info.size, info.content_type)


def object_to_proto(obj: StoredObject) -> common_pb2.ObjectInfo:
    return common_pb2.ObjectInfo(
        checksum=common_pb2.Checksum(sha256=obj.sha256),
        size=obj.size,
        content_type=obj.content_type,
    )


def _key_to_proto(key: ResultKey) -> storage_service_pb2.ResultKey:
    return storage_service_pb2.ResultKey(
        input_sha256=key.input_sha256,
        step=key.step,
        version=key.version,
        options_digest=key.options_digest,
    )


def _pieces(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The bytes of `chunks` in pieces no larger than the contract allows."""
    for chunk in chunks:
        for start in range(0, len(chunk), CHUNK_SIZE):
            yield chunk[start : start + CHUNK_SIZE]


def _write_result(response: storage_service_pb2.WriteObjectResponse) -> WriteResult:
    return WriteResult(
        object=object_from_proto(response.object),
        jobs=[DispatchedJob(job.job_id, job.step) for job in response.jobs],
        created=response.created,
    )


_PUT_WAIT = 0.5  # seconds between looks at whether a write call has ended


class ObjectWrite:
    """A WriteObject call fed from another thread as the bytes arrive. Storage stores
    nothing until `finish` has sent the trailer and ended the stream; `cancel` ends it
    without. The call's own thread reads the queue, at most `depth` chunks behind."""

    _END = storage_service_pb2.WriteObjectRequest()  # marks the end; never sent

    def __init__(
        self,
        start: Callable[[Iterator[storage_service_pb2.WriteObjectRequest]], grpc.Future],
        header: storage_service_pb2.WriteHeader,
        depth: int = 4,
    ) -> None:
        self._queue: queue.Queue[storage_service_pb2.WriteObjectRequest] = queue.Queue(depth)
        self._call = start(self._requests(header))

    def _requests(
        self, header: storage_service_pb2.WriteHeader
    ) -> Iterator[storage_service_pb2.WriteObjectRequest]:
        yield storage_service_pb2.WriteObjectRequest(header=header)
        while (request := self._queue.get()) is not self._END:
            yield request

    @property
    def ended(self) -> bool:
        """Whether the call is over: finished, cancelled or refused by storage."""
        return bool(self._call.done())

    def send(self, data: bytes) -> None:
        """Queue `data`, waiting while the call is behind. Once the call has ended (storage
        refused it) the bytes are dropped: `finish` says why."""
        for piece in _pieces([data]):
            self._put(storage_service_pb2.WriteObjectRequest(chunk=piece))

    def finish(self, pipeline: Sequence[str] = ()) -> WriteResult:
        """End the stream naming the steps to run (empty: the default for the type) and
        return what storage committed; ServiceError when it refused."""
        trailer = storage_service_pb2.WriteTrailer(pipeline=list(pipeline))
        self._put(storage_service_pb2.WriteObjectRequest(trailer=trailer))
        self._put(self._END)
        try:
            return _write_result(self._call.result())
        except grpc.RpcError as error:
            raise ServiceError.from_rpc_error(error, "storage") from error
        finally:
            self._release()

    def cancel(self) -> None:
        """End the call without storing anything; a no-op once it has ended."""
        self._call.cancel()
        self._release()

    def _release(self) -> None:
        """Wake the call's thread if it still waits for a request (storage ended the call
        early, and the end of the stream was dropped)."""
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(self._END)

    def _put(self, request: storage_service_pb2.WriteObjectRequest) -> None:
        while not self.ended:
            with contextlib.suppress(queue.Full):
                self._queue.put(request, timeout=_PUT_WAIT)
                return


def _store_result_requests(
    header: storage_service_pb2.StoreResultHeader, derivatives: Iterable[DerivativeUpload]
) -> Iterator[storage_service_pb2.StoreResultRequest]:
    yield storage_service_pb2.StoreResultRequest(header=header)
    for item in derivatives:
        start = storage_service_pb2.DerivativeStart(kind=item.kind, declared_sha256=item.sha256)
        if item.size is not None:
            start.declared_size = item.size
        yield storage_service_pb2.StoreResultRequest(derivative=start)
        for piece in _pieces(item.chunks):
            yield storage_service_pb2.StoreResultRequest(chunk=piece)


def _result_from_proto(record: storage_service_pb2.StepResultRecord) -> RememberedResult:
    return RememberedResult(
        key=ResultKey(
            record.key.input_sha256, record.key.step, record.key.version, record.key.options_digest
        ),
        metadata=json_format.MessageToDict(record.metadata),
        derivatives=[
            StoredDerivative(item.kind, object_from_proto(item.object))
            for item in record.derivatives
        ],
    )


class StorageClient:
    """A channel to the storage service with typed methods.

    `timeout` bounds unary calls; `stream_timeout` bounds a whole streamed transfer;
    with `tls` (usp.grpc_tls) the channel is mutual TLS, else plaintext.
    """

    def __init__(
        self,
        target: str,
        token: str,
        *,
        timeout: float = 10.0,
        stream_timeout: float = 3600.0,
        tls: TlsFiles | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        self._channel = channel or open_channel(
            target,
            tls,
            options=[
                ("grpc.max_send_message_length", 4 * CHUNK_SIZE),
                ("grpc.max_receive_message_length", 4 * CHUNK_SIZE),
                # A streamed read is received on the reading thread, not on a thread
                # the channel starts for it.
                (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, True),
            ],
        )
        self._stub = storage_service_pb2_grpc.StorageServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = service_metadata(token)
        self._timeout = timeout
        self._stream_timeout = stream_timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> StorageClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def write_object(
        self,
        chunks: Iterable[bytes],
        *,
        file_id: str,
        name: str = "",
        declared_size: int | None = None,
        declared_sha256: str = "",
        pipeline: Sequence[str] = (),
        allowed_types: Sequence[str] = (),
    ) -> WriteResult:
        """Stream a file's original to storage; it is committed only when fully verified
        (and, with `allowed_types`, only when its sniffed type matches one of them).
        Derivatives go with their step's result (store_result)."""
        header = storage_service_pb2.WriteHeader(
            file_id=file_id,
            name=name,
            declared_sha256=declared_sha256,
            pipeline=list(pipeline),
            allowed_types=list(allowed_types),
        )
        if declared_size is not None:
            header.declared_size = declared_size

        def requests() -> Iterator[storage_service_pb2.WriteObjectRequest]:
            yield storage_service_pb2.WriteObjectRequest(header=header)
            for piece in _pieces(chunks):
                yield storage_service_pb2.WriteObjectRequest(chunk=piece)

        response = self._call(self._stub.WriteObject, requests(), timeout=self._stream_timeout)
        return _write_result(response)

    def open_write(
        self, *, file_id: str, name: str = "", allowed_types: Sequence[str] = ()
    ) -> ObjectWrite:
        """Start streaming a file's original whose bytes are still arriving: `send` them
        as they come, then `finish` naming the steps, or `cancel`."""
        header = storage_service_pb2.WriteHeader(
            file_id=file_id, name=name, allowed_types=list(allowed_types), trailer_follows=True
        )
        return ObjectWrite(
            lambda requests: self._stub.WriteObject.future(
                requests, timeout=self._stream_timeout, metadata=self._metadata
            ),
            header,
        )

    def read_object(self, sha256: str, *, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        """Stream an object's bytes; errors surface as ServiceError while iterating."""
        request = storage_service_pb2.ReadObjectRequest(
            checksum=common_pb2.Checksum(sha256=sha256), offset=offset, length=length
        )
        try:
            for response in self._stub.ReadObject(
                request, timeout=self._stream_timeout, metadata=self._metadata
            ):
                yield response.chunk
        except grpc.RpcError as error:
            raise ServiceError.from_rpc_error(error, "storage") from error

    def stat_object(self, sha256: str) -> StoredObject:
        request = storage_service_pb2.StatObjectRequest(checksum=common_pb2.Checksum(sha256=sha256))
        return object_from_proto(self._call(self._stub.StatObject, request))

    def delete_file(self, file_id: str) -> int:
        """Forget a file's objects; returns how many blobs were removed."""
        request = storage_service_pb2.DeleteFileRequest(file_id=file_id)
        return self._call(self._stub.DeleteFile, request).blobs_removed

    def create_upload_session(
        self,
        *,
        file_id: str,
        owner_id: str,
        name: str,
        size: int,
        declared_sha256: str = "",
        pipeline: Sequence[str] = (),
        allowed_types: Sequence[str] = (),
        expires_in_seconds: int = 0,
    ) -> UploadSessionInfo:
        """Open (or, for the same file, return the open) resumable upload session."""
        request = storage_service_pb2.CreateUploadSessionRequest(
            file_id=file_id,
            owner_id=owner_id,
            name=name,
            size=size,
            declared_sha256=declared_sha256,
            pipeline=list(pipeline),
            allowed_types=list(allowed_types),
            expires_in_seconds=expires_in_seconds,
        )
        response = self._call(self._stub.CreateUploadSession, request)
        return UploadSessionInfo(
            session_id=response.session_id,
            upload_url=response.upload_url,
            expires_at=response.expires_at.ToDatetime(tzinfo=UTC),
            max_size=response.max_size,
            offset=response.offset,
        )

    def abort_upload_session(self, file_id: str) -> bool:
        """End a file's unfinished upload; False when it had none."""
        request = storage_service_pb2.AbortUploadSessionRequest(file_id=file_id)
        return self._call(self._stub.AbortUploadSession, request).aborted

    def dispatch_jobs(
        self, file_id: str, jobs: Sequence[DispatchedJob], *, fresh: bool = False
    ) -> list[DispatchedJob]:
        """Dispatch jobs for a stored file: a job with an id is run again (a retry), one
        with an empty id gets a new one (a reprocess). Returns the dispatched jobs."""
        request = storage_service_pb2.DispatchJobsRequest(
            file_id=file_id,
            jobs=[common_pb2.JobRef(job_id=job.job_id, step=job.step) for job in jobs],
            fresh=fresh,
        )
        response = self._call(self._stub.DispatchJobs, request)
        return [DispatchedJob(job.job_id, job.step) for job in response.jobs]

    def lookup_result(self, key: ResultKey) -> RememberedResult | None:
        """The result storage remembers for `key`; None when there is none."""
        try:
            return _result_from_proto(self._call(self._stub.LookupResult, _key_to_proto(key)))
        except ServiceError as error:
            if error.status == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def store_result(
        self,
        key: ResultKey,
        *,
        file_id: str,
        job_id: str,
        metadata: dict[str, Any],
        derivatives: Iterable[DerivativeUpload],
    ) -> list[StoredDerivative]:
        """Store the derivatives a step made for `file_id` as job `job_id`'s and remember
        the step's result on `key`'s content, in one call that stores all or nothing.
        Returns the derivatives as stored, in the order given."""
        struct = struct_pb2.Struct()
        struct.update(metadata)
        header = storage_service_pb2.StoreResultHeader(
            key=_key_to_proto(key), file_id=file_id, job_id=job_id, metadata=struct
        )
        requests = _store_result_requests(header, derivatives)
        response = self._call(self._stub.StoreResult, requests, timeout=self._stream_timeout)
        return [
            StoredDerivative(item.kind, object_from_proto(item.object))
            for item in response.derivatives
        ]

    def link_result(self, key: ResultKey, *, file_id: str, job_id: str) -> None:
        """Give `file_id` the derivatives of the result remembered for `key`;
        ServiceError NOT_FOUND when there is none or one of its objects is gone."""
        request = storage_service_pb2.LinkResultRequest(
            key=_key_to_proto(key), file_id=file_id, job_id=job_id
        )
        self._call(self._stub.LinkResult, request)

    def is_serving(self) -> bool:
        """True when the storage service answers its health check as SERVING."""
        request = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        try:
            response = self._call(self._health.Check, request, timeout=min(self._timeout, 3.0))
        except ServiceError:
            return False
        return response.status == health_pb2.HealthCheckResponse.SERVING

    def _call(self, method, request, *, timeout: float | None = None):  # type: ignore[no-untyped-def]
        try:
            return method(request, timeout=timeout or self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise ServiceError.from_rpc_error(error, "storage") from error
