from usp.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WriteObjectRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: WriteHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[WriteHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class WriteHeader(_message.Message):
    __slots__ = ("file_id", "declared_size", "declared_sha256", "name", "pipeline", "derivative_of")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    DECLARED_SIZE_FIELD_NUMBER: _ClassVar[int]
    DECLARED_SHA256_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    DERIVATIVE_OF_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    declared_size: int
    declared_sha256: str
    name: str
    pipeline: _containers.RepeatedScalarFieldContainer[str]
    derivative_of: DerivativeOf
    def __init__(self, file_id: _Optional[str] = ..., declared_size: _Optional[int] = ..., declared_sha256: _Optional[str] = ..., name: _Optional[str] = ..., pipeline: _Optional[_Iterable[str]] = ..., derivative_of: _Optional[_Union[DerivativeOf, _Mapping]] = ...) -> None: ...

class DerivativeOf(_message.Message):
    __slots__ = ("kind", "job_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    job_id: str
    def __init__(self, kind: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

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
