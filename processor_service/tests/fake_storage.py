"""An in-memory usp.v1.StorageService behind a real gRPC server, for the processor's tests.

It follows the contract in proto/storage_service.proto closely enough for the processor:
content-addressed writes (derivatives recorded with their file, kind and job), ranged
streaming reads, and a switch to make the next reads fail with UNAVAILABLE.
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


class FakeStorage(storage_service_pb2_grpc.StorageServiceServicer):
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.derivatives: list[RecordedDerivative] = []
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

    def _record(self, header: storage_service_pb2.WriteHeader, sha256: str) -> None:
        if header.HasField("derivative_of"):
            kind, job_id = header.derivative_of.kind, header.derivative_of.job_id
            self.derivatives.append(RecordedDerivative(header.file_id, kind, job_id, sha256))

    @staticmethod
    def _info(sha256: str, data: bytes) -> common_pb2.ObjectInfo:
        return common_pb2.ObjectInfo(
            checksum=common_pb2.Checksum(sha256=sha256), size=len(data), content_type=sniff(data)
        )


def start_fake_storage(token: str) -> tuple[grpc.Server, str, FakeStorage]:
    """A started server on 127.0.0.1 and a free port, its target, and its state."""
    fake = FakeStorage()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=[ServiceTokenInterceptor(token)],
    )
    storage_service_pb2_grpc.add_StorageServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}", fake
