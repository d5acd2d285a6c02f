import datetime

from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FileState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_STATE_UNSPECIFIED: _ClassVar[FileState]
    FILE_STATE_AWAITING_UPLOAD: _ClassVar[FileState]
    FILE_STATE_STORED: _ClassVar[FileState]
    FILE_STATE_PROCESSING: _ClassVar[FileState]
    FILE_STATE_READY: _ClassVar[FileState]
    FILE_STATE_FAILED: _ClassVar[FileState]
    FILE_STATE_EXPIRED: _ClassVar[FileState]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
FILE_STATE_UNSPECIFIED: FileState
FILE_STATE_AWAITING_UPLOAD: FileState
FILE_STATE_STORED: FileState
FILE_STATE_PROCESSING: FileState
FILE_STATE_READY: FileState
FILE_STATE_FAILED: FileState
FILE_STATE_EXPIRED: FileState
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState

class Checksum(_message.Message):
    __slots__ = ("sha256",)
    SHA256_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    def __init__(self, sha256: _Optional[str] = ...) -> None: ...

class ObjectInfo(_message.Message):
    __slots__ = ("checksum", "size", "content_type")
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    checksum: Checksum
    size: int
    content_type: str
    def __init__(self, checksum: _Optional[_Union[Checksum, _Mapping]] = ..., size: _Optional[int] = ..., content_type: _Optional[str] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job_id", "step")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    step: str
    def __init__(self, job_id: _Optional[str] = ..., step: _Optional[str] = ...) -> None: ...

class Derivative(_message.Message):
    __slots__ = ("kind", "object")
    KIND_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    object: ObjectInfo
    def __init__(self, kind: _Optional[str] = ..., object: _Optional[_Union[ObjectInfo, _Mapping]] = ...) -> None: ...

class ErrorInfo(_message.Message):
    __slots__ = ("code", "message", "transient")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSIENT_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    transient: bool
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., transient: _Optional[bool] = ...) -> None: ...

class EventEnvelope(_message.Message):
    __slots__ = ("event_id", "type", "occurred_at", "file_id", "job_id", "sequence", "payload")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    occurred_at: _timestamp_pb2.Timestamp
    file_id: str
    job_id: str
    sequence: int
    payload: _any_pb2.Any
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., file_id: _Optional[str] = ..., job_id: _Optional[str] = ..., sequence: _Optional[int] = ..., payload: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...
