"""An in-memory usp.v1.StorageService behind a real gRPC server, for the processor's tests.

It follows the contract in proto/storage_service.proto closely enough for the processor:
ranged streaming reads, stored results (their derivatives content-addressed and recorded
with their file, kind and job, each file's current derivative of a kind in `refs`, one
entry in `store_calls` per StoreResult call), remembered results (lookup, link), and
switches to make the next reads or StoreResult calls fail with UNAVAILABLE.
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
class StoreCall:
    """One StoreResult call as received: the file, the job and the derivatives' kinds."""

    file_id: str
    job_id: str
    kinds: list[str]


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
        self.store_calls: list[StoreCall] = []
        self.failing_reads = 0
        self.failing_stores = 0
        self._lock = threading.Lock()

    def put(self, data: bytes, *, sha256: str = "") -> common_pb2.ObjectInfo:
        """Store bytes directly (as a committed upload); `sha256` may lie, for tests."""
        key = sha256 or hashlib.sha256(data).hexdigest()
        self.objects[key] = data
        return self._info(key, data)

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

    def StoreResult(
        self,
        request_iterator: Iterator[storage_service_pb2.StoreResultRequest],
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.StoreResultResponse:
        header, parts = _read_result(request_iterator, context)
        with self._lock:
            self.store_calls.append(StoreCall(header.file_id, header.job_id, list(parts)))
            failing, self.failing_stores = self.failing_stores > 0, max(0, self.failing_stores - 1)
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "storage is restarting")
        with self._lock:
            stored = [self._store(header, kind, data) for kind, data in parts.items()]
            self.results[key_tuple(header.key)] = storage_service_pb2.StepResultRecord(
                key=header.key, metadata=header.metadata, derivatives=stored
            )
        return storage_service_pb2.StoreResultResponse(derivatives=stored)

    def LinkResult(
        self, request: storage_service_pb2.LinkResultRequest, context: grpc.ServicerContext
    ) -> storage_service_pb2.LinkResultResponse:
        with self._lock:
            record = self._remembered(request.key, context)
            self.links.append((key_tuple(request.key), request.file_id, request.job_id))
            self._link(record, request.file_id, request.job_id)
        return storage_service_pb2.LinkResultResponse()

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

    def _store(
        self, header: storage_service_pb2.StoreResultHeader, kind: str, data: bytes
    ) -> common_pb2.Derivative:
        sha256 = hashlib.sha256(data).hexdigest()
        self.objects[sha256] = data
        derivative = RecordedDerivative(header.file_id, kind, header.job_id, sha256)
        self.derivatives.append(derivative)
        self.refs[(header.file_id, kind)] = derivative
        return common_pb2.Derivative(kind=kind, object=self._info(sha256, data))

    @staticmethod
    def _info(sha256: str, data: bytes) -> common_pb2.ObjectInfo:
        return common_pb2.ObjectInfo(
            checksum=common_pb2.Checksum(sha256=sha256), size=len(data), content_type=sniff(data)
        )


def _read_result(
    requests: Iterator[storage_service_pb2.StoreResultRequest], context: grpc.ServicerContext
) -> tuple[storage_service_pb2.StoreResultHeader, dict[str, bytes]]:
    """The header and each derivative's bytes by kind; a declared size must match."""
    header = next(requests).header
    parts: dict[str, bytearray] = {}
    declared: dict[str, int] = {}
    for request in requests:
        if request.WhichOneof("part") == "derivative":
            kind = request.derivative.kind
            parts[kind] = bytearray()
            if request.derivative.HasField("declared_size"):
                declared[kind] = request.derivative.declared_size
        else:
            parts[kind] += request.chunk
    if any(len(parts[kind]) != size for kind, size in declared.items()):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "size mismatch")
    return header, {kind: bytes(data) for kind, data in parts.items()}


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
