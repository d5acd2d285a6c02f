import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from usp.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WriteObjectRequest(_message.Message):
    __slots__ = ("header", "chunk", "trailer")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    header: WriteHeader
    chunk: bytes
    trailer: WriteTrailer
    def __init__(self, header: _Optional[_Union[WriteHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ..., trailer: _Optional[_Union[WriteTrailer, _Mapping]] = ...) -> None: ...

class WriteHeader(_message.Message):
    __slots__ = ("file_id", "declared_size", "declared_sha256", "name", "pipeline", "allowed_types", "trailer_follows")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    DECLARED_SIZE_FIELD_NUMBER: _ClassVar[int]
    DECLARED_SHA256_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_TYPES_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FOLLOWS_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    declared_size: int
    declared_sha256: str
    name: str
    pipeline: _containers.RepeatedScalarFieldContainer[str]
    allowed_types: _containers.RepeatedScalarFieldContainer[str]
    trailer_follows: bool
    def __init__(self, file_id: _Optional[str] = ..., declared_size: _Optional[int] = ..., declared_sha256: _Optional[str] = ..., name: _Optional[str] = ..., pipeline: _Optional[_Iterable[str]] = ..., allowed_types: _Optional[_Iterable[str]] = ..., trailer_follows: _Optional[bool] = ...) -> None: ...

class WriteTrailer(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pipeline: _Optional[_Iterable[str]] = ...) -> None: ...

class WriteObjectResponse(_message.Message):
    __slots__ = ("object", "jobs", "created")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    object: _common_pb2.ObjectInfo
    jobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.JobRef]
    created: bool
    def __init__(self, object: _Optional[_Union[_common_pb2.ObjectInfo, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[_common_pb2.JobRef, _Mapping]]] = ..., created: _Optional[bool] = ...) -> None: ...

class ReadObjectRequest(_message.Message):
    __slots__ = ("checksum", "offset", "length")
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    checksum: _common_pb2.Checksum
    offset: int
    length: int
    def __init__(self, checksum: _Optional[_Union[_common_pb2.Checksum, _Mapping]] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class ReadObjectResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    def __init__(self, chunk: _Optional[bytes] = ...) -> None: ...

class StatObjectRequest(_message.Message):
    __slots__ = ("checksum",)
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    checksum: _common_pb2.Checksum
    def __init__(self, checksum: _Optional[_Union[_common_pb2.Checksum, _Mapping]] = ...) -> None: ...

class DeleteFileRequest(_message.Message):
    __slots__ = ("file_id",)
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    def __init__(self, file_id: _Optional[str] = ...) -> None: ...

class DeleteFileResponse(_message.Message):
    __slots__ = ("blobs_removed",)
    BLOBS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    blobs_removed: int
    def __init__(self, blobs_removed: _Optional[int] = ...) -> None: ...

class FileStored(_message.Message):
    __slots__ = ("object", "jobs")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    object: _common_pb2.ObjectInfo
    jobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.JobRef]
    def __init__(self, object: _Optional[_Union[_common_pb2.ObjectInfo, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[_common_pb2.JobRef, _Mapping]]] = ...) -> None: ...

class CreateUploadSessionRequest(_message.Message):
    __slots__ = ("file_id", "owner_id", "name", "size", "declared_sha256", "pipeline", "allowed_types", "expires_in_seconds")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    DECLARED_SHA256_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_TYPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    owner_id: str
    name: str
    size: int
    declared_sha256: str
    pipeline: _containers.RepeatedScalarFieldContainer[str]
    allowed_types: _containers.RepeatedScalarFieldContainer[str]
    expires_in_seconds: int
    def __init__(self, file_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., name: _Optional[str] = ..., size: _Optional[int] = ..., declared_sha256: _Optional[str] = ..., pipeline: _Optional[_Iterable[str]] = ..., allowed_types: _Optional[_Iterable[str]] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class UploadSession(_message.Message):
    __slots__ = ("session_id", "upload_url", "expires_at", "max_size", "offset")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    upload_url: str
    expires_at: _timestamp_pb2.Timestamp
    max_size: int
    offset: int
    def __init__(self, session_id: _Optional[str] = ..., upload_url: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_size: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class AbortUploadSessionRequest(_message.Message):
    __slots__ = ("file_id",)
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    def __init__(self, file_id: _Optional[str] = ...) -> None: ...

class AbortUploadSessionResponse(_message.Message):
    __slots__ = ("aborted",)
    ABORTED_FIELD_NUMBER: _ClassVar[int]
    aborted: bool
    def __init__(self, aborted: _Optional[bool] = ...) -> None: ...

class DispatchJobsRequest(_message.Message):
    __slots__ = ("file_id", "jobs", "fresh")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    FRESH_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    jobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.JobRef]
    fresh: bool
    def __init__(self, file_id: _Optional[str] = ..., jobs: _Optional[_Iterable[_Union[_common_pb2.JobRef, _Mapping]]] = ..., fresh: _Optional[bool] = ...) -> None: ...

class DispatchJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.JobRef]
    def __init__(self, jobs: _Optional[_Iterable[_Union[_common_pb2.JobRef, _Mapping]]] = ...) -> None: ...

class ResultKey(_message.Message):
    __slots__ = ("input_sha256", "step", "version", "options_digest")
    INPUT_SHA256_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    input_sha256: str
    step: str
    version: int
    options_digest: str
    def __init__(self, input_sha256: _Optional[str] = ..., step: _Optional[str] = ..., version: _Optional[int] = ..., options_digest: _Optional[str] = ...) -> None: ...

class StepResultRecord(_message.Message):
    __slots__ = ("key", "metadata", "derivatives")
    KEY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DERIVATIVES_FIELD_NUMBER: _ClassVar[int]
    key: ResultKey
    metadata: _struct_pb2.Struct
    derivatives: _containers.RepeatedCompositeFieldContainer[_common_pb2.Derivative]
    def __init__(self, key: _Optional[_Union[ResultKey, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., derivatives: _Optional[_Iterable[_Union[_common_pb2.Derivative, _Mapping]]] = ...) -> None: ...

class StoreResultRequest(_message.Message):
    __slots__ = ("header", "derivative", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DERIVATIVE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: StoreResultHeader
    derivative: DerivativeStart
    chunk: bytes
    def __init__(self, header: _Optional[_Union[StoreResultHeader, _Mapping]] = ..., derivative: _Optional[_Union[DerivativeStart, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class StoreResultHeader(_message.Message):
    __slots__ = ("key", "file_id", "job_id", "metadata")
    KEY_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    key: ResultKey
    file_id: str
    job_id: str
    metadata: _struct_pb2.Struct
    def __init__(self, key: _Optional[_Union[ResultKey, _Mapping]] = ..., file_id: _Optional[str] = ..., job_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DerivativeStart(_message.Message):
    __slots__ = ("kind", "declared_size", "declared_sha256")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DECLARED_SIZE_FIELD_NUMBER: _ClassVar[int]
    DECLARED_SHA256_FIELD_NUMBER: _ClassVar[int]
    kind: str
    declared_size: int
    declared_sha256: str
    def __init__(self, kind: _Optional[str] = ..., declared_size: _Optional[int] = ..., declared_sha256: _Optional[str] = ...) -> None: ...

class StoreResultResponse(_message.Message):
    __slots__ = ("derivatives",)
    DERIVATIVES_FIELD_NUMBER: _ClassVar[int]
    derivatives: _containers.RepeatedCompositeFieldContainer[_common_pb2.Derivative]
    def __init__(self, derivatives: _Optional[_Iterable[_Union[_common_pb2.Derivative, _Mapping]]] = ...) -> None: ...

class LinkResultRequest(_message.Message):
    __slots__ = ("key", "file_id", "job_id")
    KEY_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    key: ResultKey
    file_id: str
    job_id: str
    def __init__(self, key: _Optional[_Union[ResultKey, _Mapping]] = ..., file_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class LinkResultResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UploadEnded(_message.Message):
    __slots__ = ("reason", "error")
    REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    reason: str
    error: _common_pb2.ErrorInfo
    def __init__(self, reason: _Optional[str] = ..., error: _Optional[_Union[_common_pb2.ErrorInfo, _Mapping]] = ...) -> None: ...
