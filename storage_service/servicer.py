"""The gRPC adapter of usp.v1.StorageService: proto in, domain call, proto out."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import json_format, struct_pb2

from storage_service.dispatch import object_info_proto
from storage_service.errors import (
    AlreadyExists,
    Forbidden,
    InvalidObject,
    ObjectNotFound,
    OutOfRange,
    SessionExpired,
    StorageError,
    TooLarge,
)
from storage_service.ingest import Declared, IncomingDerivative
from storage_service.objects import Storage
from storage_service.records import (
    Derivative,
    Job,
    ResultKey,
    StepResultInfo,
    UploadInfo,
    WriteOutcome,
)
from storage_service.redispatch import JobDispatcher
from storage_service.results import StepResults
from storage_service.uploads import Uploads
from usp.v1 import common_pb2, storage_service_pb2, storage_service_pb2_grpc

# The one mapping from domain errors to gRPC status codes.
STATUS_FOR_ERROR: dict[type[StorageError], grpc.StatusCode] = {
    InvalidObject: grpc.StatusCode.INVALID_ARGUMENT,
    ObjectNotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    TooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    SessionExpired: grpc.StatusCode.FAILED_PRECONDITION,
}

F = TypeVar("F", bound=Callable[..., Any])


def status_for(error: StorageError) -> grpc.StatusCode:
    for kind in type(error).__mro__:
        if kind in STATUS_FOR_ERROR:
            return STATUS_FOR_ERROR[kind]  # type: ignore[index]
    return grpc.StatusCode.INTERNAL


def _abort(context: grpc.ServicerContext, error: StorageError) -> NoReturn:
    context.abort(status_for(error), error.message)
    raise AssertionError("context.abort returned")  # pragma: no cover


def translate_errors(method: F) -> F:
    """Turn domain errors raised by a unary or server-streaming method into statuses."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stream(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from method(self, request, context)
            except StorageError as error:
                _abort(context, error)

        return stream  # type: ignore[return-value]

    @functools.wraps(method)
    def unary(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except StorageError as error:
            _abort(context, error)

    return unary  # type: ignore[return-value]


def _header(requests: Iterator[Any], rpc: str) -> Any:
    """The header a client stream of `rpc` opens with (its messages' oneof `part`)."""
    first = next(requests, None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidObject(f"the first {rpc} message must be the header")
    return first.header


class WriteStream:
    """A WriteObject request stream read in order: its header, its chunks, then at most a
    trailer, which must be the last message."""

    def __init__(self, requests: Iterator[storage_service_pb2.WriteObjectRequest]) -> None:
        self._requests = requests
        self.header: storage_service_pb2.WriteHeader = _header(requests, "WriteObject")
        self._trailer: storage_service_pb2.WriteTrailer | None = None

    def chunks(self) -> Iterator[bytes]:
        for request in self._requests:
            part = request.WhichOneof("part")
            if part == "trailer":
                self._trailer = request.trailer
                if next(self._requests, None) is not None:
                    raise InvalidObject("the WriteObject trailer must be the last message")
                return
            if part != "chunk":
                raise InvalidObject(
                    "after the WriteObject header come only chunks, then at most a trailer"
                )
            yield request.chunk

    def pipeline(self) -> list[str]:
        """The steps the trailer names if one came, else the header's; read after the
        chunks."""
        if self._trailer is None:
            if self.header.trailer_follows:
                raise InvalidObject("the WriteObject stream ended before its trailer")
            return list(self.header.pipeline)
        if self.header.pipeline:
            raise InvalidObject("name the pipeline in the header or in the trailer, not both")
        return list(self._trailer.pipeline)


def _write_response(outcome: WriteOutcome) -> storage_service_pb2.WriteObjectResponse:
    return storage_service_pb2.WriteObjectResponse(
        object=object_info_proto(outcome.object),
        jobs=_job_refs(outcome.jobs),
        created=outcome.created,
    )


class ResultStream:
    """A StoreResult request stream read in order: its header, then its derivatives,
    each one's chunks read up to the next DerivativeStart (which is kept for the next)."""

    def __init__(self, requests: Iterator[storage_service_pb2.StoreResultRequest]) -> None:
        self._requests = requests
        self._next: storage_service_pb2.StoreResultRequest | None = None

    def header(self) -> storage_service_pb2.StoreResultHeader:
        header: storage_service_pb2.StoreResultHeader = _header(self._requests, "StoreResult")
        return header

    def derivatives(self) -> Iterator[IncomingDerivative]:
        """Each derivative in turn; its chunks must be read before the next is asked for."""
        while (start := self._start()) is not None:
            declared_size = start.declared_size if start.HasField("declared_size") else None
            yield IncomingDerivative(
                start.kind, self._chunks(), Declared(declared_size, start.declared_sha256)
            )

    def _start(self) -> storage_service_pb2.DerivativeStart | None:
        request = next(self._requests, None) if self._next is None else self._next
        self._next = None
        if request is None:
            return None
        if request.WhichOneof("part") != "derivative":
            raise InvalidObject(
                "after the StoreResult header come only derivative starts, each followed by"
                " its chunks"
            )
        return request.derivative

    def _chunks(self) -> Iterator[bytes]:
        for request in self._requests:
            if request.WhichOneof("part") != "chunk":
                self._next = request
                return
            yield request.chunk


def _upload_session(info: UploadInfo) -> storage_service_pb2.UploadSession:
    session = storage_service_pb2.UploadSession(
        session_id=info.session_id,
        upload_url=info.upload_url,
        max_size=info.size,
        offset=info.offset,
    )
    session.expires_at.FromDatetime(info.expires_at)
    return session


def _job_refs(jobs: list[Job]) -> list[common_pb2.JobRef]:
    return [common_pb2.JobRef(job_id=job.job_id, step=job.step) for job in jobs]


def _key(key: storage_service_pb2.ResultKey) -> ResultKey:
    return ResultKey(key.input_sha256, key.step, key.version, key.options_digest)


def _key_proto(key: ResultKey) -> storage_service_pb2.ResultKey:
    return storage_service_pb2.ResultKey(
        input_sha256=key.input_sha256,
        step=key.step,
        version=key.version,
        options_digest=key.options_digest,
    )


def _result_proto(result: StepResultInfo) -> storage_service_pb2.StepResultRecord:
    metadata = struct_pb2.Struct()
    metadata.update(result.metadata)
    return storage_service_pb2.StepResultRecord(
        key=_key_proto(result.key),
        metadata=metadata,
        derivatives=_derivative_protos(result.derivatives),
    )


def _derivative_protos(derivatives: list[Derivative]) -> list[common_pb2.Derivative]:
    return [
        common_pb2.Derivative(kind=item.kind, object=object_info_proto(item.object))
        for item in derivatives
    ]


class StorageServicer(storage_service_pb2_grpc.StorageServiceServicer):
    def __init__(
        self,
        storage: Storage,
        uploads: Uploads,
        results: StepResults,
        dispatcher: JobDispatcher,
    ) -> None:
        self._storage = storage
        self._uploads = uploads
        self._results = results
        self._dispatcher = dispatcher

    @translate_errors
    def WriteObject(
        self,
        request_iterator: Iterator[storage_service_pb2.WriteObjectRequest],
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.WriteObjectResponse:
        stream = WriteStream(request_iterator)
        header = stream.header
        declared_size = header.declared_size if header.HasField("declared_size") else None
        outcome = self._storage.write_original(
            file_id=header.file_id,
            chunks=stream.chunks(),
            name=header.name,
            declared_size=declared_size,
            declared_sha256=header.declared_sha256,
            pipeline=stream.pipeline,
            allowed_types=list(header.allowed_types),
        )
        return _write_response(outcome)

    @translate_errors
    def ReadObject(
        self, request: storage_service_pb2.ReadObjectRequest, context: grpc.ServicerContext
    ) -> Iterator[storage_service_pb2.ReadObjectResponse]:
        chunks = self._storage.read(
            request.checksum.sha256, offset=request.offset, length=request.length
        )
        for chunk in chunks:
            yield storage_service_pb2.ReadObjectResponse(chunk=chunk)

    @translate_errors
    def StatObject(
        self, request: storage_service_pb2.StatObjectRequest, context: grpc.ServicerContext
    ) -> common_pb2.ObjectInfo:
        return object_info_proto(self._storage.stat(request.checksum.sha256))

    @translate_errors
    def DeleteFile(
        self, request: storage_service_pb2.DeleteFileRequest, context: grpc.ServicerContext
    ) -> storage_service_pb2.DeleteFileResponse:
        self._uploads.abort(request.file_id)  # an unfinished upload of the file ends too
        removed = self._storage.delete_file(request.file_id)
        return storage_service_pb2.DeleteFileResponse(blobs_removed=removed)

    @translate_errors
    def CreateUploadSession(
        self,
        request: storage_service_pb2.CreateUploadSessionRequest,
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.UploadSession:
        info = self._uploads.create(
            file_id=request.file_id,
            owner_id=request.owner_id,
            size=request.size,
            name=request.name,
            declared_sha256=request.declared_sha256,
            pipeline=list(request.pipeline),
            allowed_types=list(request.allowed_types),
            expires_in=request.expires_in_seconds,
        )
        return _upload_session(info)

    @translate_errors
    def AbortUploadSession(
        self,
        request: storage_service_pb2.AbortUploadSessionRequest,
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.AbortUploadSessionResponse:
        aborted = self._uploads.abort(request.file_id)
        return storage_service_pb2.AbortUploadSessionResponse(aborted=aborted)

    @translate_errors
    def DispatchJobs(
        self, request: storage_service_pb2.DispatchJobsRequest, context: grpc.ServicerContext
    ) -> storage_service_pb2.DispatchJobsResponse:
        dispatched = self._dispatcher.dispatch_jobs(
            file_id=request.file_id,
            jobs=[Job(job.job_id, job.step) for job in request.jobs],
            fresh=request.fresh,
        )
        return storage_service_pb2.DispatchJobsResponse(jobs=_job_refs(dispatched))

    @translate_errors
    def LookupResult(
        self, request: storage_service_pb2.ResultKey, context: grpc.ServicerContext
    ) -> storage_service_pb2.StepResultRecord:
        return _result_proto(self._results.lookup(_key(request)))

    @translate_errors
    def StoreResult(
        self,
        request_iterator: Iterator[storage_service_pb2.StoreResultRequest],
        context: grpc.ServicerContext,
    ) -> storage_service_pb2.StoreResultResponse:
        stream = ResultStream(request_iterator)
        header = stream.header()
        stored = self._results.store(
            key=_key(header.key),
            metadata=json_format.MessageToDict(header.metadata),
            file_id=header.file_id,
            job_id=header.job_id,
            derivatives=stream.derivatives(),
        )
        return storage_service_pb2.StoreResultResponse(derivatives=_derivative_protos(stored))

    @translate_errors
    def LinkResult(
        self, request: storage_service_pb2.LinkResultRequest, context: grpc.ServicerContext
    ) -> storage_service_pb2.LinkResultResponse:
        self._results.link(key=_key(request.key), file_id=request.file_id, job_id=request.job_id)
        return storage_service_pb2.LinkResultResponse()
