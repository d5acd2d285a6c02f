"""An in-memory usp.v1.StorageService behind a real gRPC server, for the processor's tests.

It follows the contract in proto/storage_service.proto closely enough for the processor:
content-addressed writes (derivatives recorded with their file, kind and job, and each
file's current derivative of a kind in `refs`), ranged streaming reads, remembered step
results (lookup, record, link), and a switch to make the next reads fail with UNAVAILABLE.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
from PIL import Image, UnidentifiedImageError

from usp.grpc_auth import ServiceTokenInterceptor
from usp.grpc_tls import TlsFiles, add_port
from usp.v1 import common_pb2, storage_service_pb2, storage_service_pb2_grpc

CHUNK = 64 * 1024


@dataclass(frozen=True)
class RecordedDerivative:
    file_id: str
    kind: str
    job_id: str
    sha256: str


def sniff(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return f"image/{(image.format or 'unknown').lower()}"
    except (UnidentifiedImageError, OSError):
        return "application/octet-stream"


ResultKeyTuple = tuple[str, str, int, str]


def key_tuple(key: storage_service_pb2.ResultKey) -> ResultKeyTuple:
    return (key.input_sha256, key.step, key.version, key.options_digest)


class FakeStorage(storage_service_pb2_grpc.StorageServiceServicer):
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.derivatives: list[RecordedDerivative] = []
        self.refs: dict[tuple[str, str], RecordedDerivative] = {}
        self.results: dict[ResultKeyTuple, storage_service_pb2.StepResultRecord] = {}
        self.lookups: list[ResultKeyTuple] = []
        self.links: list[tuple[ResultKeyTuple, str, str]] = []
        self.reads: list[str] = []
        self.failing_reads = 0
        self._lock = threading.Lock()

    def put(self, data: bytes, *, sha256: str = "") -> common_pb2.ObjectInfo:
        """Store bytes directly (as a committed upload); `sha256` may lie, for tests."""
        key = sha256 or hashlib.sha256(data).hexdigest()
        self.objects[key] = data
        return self._info(key, data)

    def WriteObject(
        self,
        request_iterator: Iterator[storage_service_pb2.WriteObjectRequest],
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.WriteObjectResponse:
        first = next(request_iterator)
        if first.WhichOneof("part") != "header":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be a header")
        data = b"".join(request.chunk for request in request_iterator)
        sha256 = hashlib.sha256(data).hexdigest()
        with self._lock:
            created = sha256 not in self.objects
            self.objects[sha256] = data
            self._record(first.header, sha256)
        return storage_service_pb2.WriteObjectResponse(
            object=self._info(sha256, data), created=created
        )

    def ReadObject(
        self, request: storage_service_pb2.ReadObjectRequest, context: grpc.ServicerContext
    ) -> Iterator[storage_service_pb2.ReadObjectResponse]:
        sha256 = request.checksum.sha256
        with self._lock:
            self.reads.append(sha256)
            failing, self.failing_reads = self.failing_reads > 0, max(0, self.failing_reads - 1)
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "storage is restarting")
        if sha256 not in self.objects:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such object")
        data = self.objects[sha256]
        end = request.offset + request.length if request.length else len(data)
        for start in range(request.offset, end, CHUNK):
            yield storage_service_pb2.ReadObjectResponse(
                chunk=data[start : min(start + CHUNK, end)]
            )

    def StatObject(
        self, request: storage_service_pb2.StatObjectRequest, context: grpc.ServicerContext
    ) -> common_pb2.ObjectInfo:
        sha256 = request.checksum.sha256
        if sha256 not in self.objects:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such object")
        return self._info(sha256, self.objects[sha256])

    def LookupResult(
        self, request: storage_service_pb2.ResultKey, context: grpc.ServicerContext
    ) -> storage_service_pb2.StepResultRecord:
        with self._lock:
            self.lookups.append(key_tuple(request))
            return self._remembered(request, context)

    def RecordResult(
        self, request: storage_service_pb2.RecordResultRequest, context: grpc.ServicerContext
    ) -> storage_service_pb2.RecordResultResponse:
        with self._lock:
            if not self._all_stored(request.result):
                context.abort(grpc.StatusCode.NOT_FOUND, "a derivative is not stored")
            self.results[key_tuple(request.result.key)] = request.result
            self._link(request.result, request.file_id, request.job_id)
        return storage_service_pb2.RecordResultResponse()

    def LinkResult(
        self, request: storage_service_pb2.LinkResultRequest, context: grpc.ServicerContext
    ) -> storage_service_pb2.RecordResultResponse:
        with self._lock:
            record = self._remembered(request.key, context)
            self.links.append((key_tuple(request.key), request.file_id, request.job_id))
            self._link(record, request.file_id, request.job_id)
        return storage_service_pb2.RecordResultResponse()

    def _remembered(
        self, key: storage_service_pb2.ResultKey, context: grpc.ServicerContext
    ) -> storage_service_pb2.StepResultRecord:
        record = self.results.get(key_tuple(key))
        if record is None or not self._all_stored(record):
            context.abort(grpc.StatusCode.NOT_FOUND, "no result is remembered for that key")
            raise AssertionError("context.abort returned")
        return record

    def _all_stored(self, record: storage_service_pb2.StepResultRecord) -> bool:
        return all(item.object.checksum.sha256 in self.objects for item in record.derivatives)

    def _link(
        self, record: storage_service_pb2.StepResultRecord, file_id: str, job_id: str
    ) -> None:
        for item in record.derivatives:
            sha256 = item.object.checksum.sha256
            self.refs[(file_id, item.kind)] = RecordedDerivative(file_id, item.kind, job_id, sha256)

    def _record(self, header: storage_service_pb2.WriteHeader, sha256: str) -> None:
        if header.HasField("derivative_of"):
            kind, job_id = header.derivative_of.kind, header.derivative_of.job_id
            derivative = RecordedDerivative(header.file_id, kind, job_id, sha256)
            self.derivatives.append(derivative)
            self.refs[(header.file_id, kind)] = derivative

    @staticmethod
    def _info(sha256: str, data: bytes) -> common_pb2.ObjectInfo:
        return common_pb2.ObjectInfo(
            checksum=common_pb2.Checksum(sha256=sha256), size=len(data), content_type=sniff(data)
        )


def start_fake_storage(
    token: str, *, tls: TlsFiles | None = None
) -> tuple[grpc.Server, str, FakeStorage]:
    """A started server on 127.0.0.1 and a free port (mutual TLS with `tls`), its
    target, and its state."""
    fake = FakeStorage()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=[ServiceTokenInterceptor(token)],
    )
    storage_service_pb2_grpc.add_StorageServiceServicer_to_server(fake, server)
    port = add_port(server, "127.0.0.1:0", tls, require_client_auth=True)
    server.start()
    return server, f"127.0.0.1:{port}", fake
