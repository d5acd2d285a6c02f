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

class ProcessTask(_message.Message):
    __slots__ = ("job_id", "file_id", "step", "input", "force")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    file_id: str
    step: str
    input: _common_pb2.ObjectInfo
    force: bool
    def __init__(self, job_id: _Optional[str] = ..., file_id: _Optional[str] = ..., step: _Optional[str] = ..., input: _Optional[_Union[_common_pb2.ObjectInfo, _Mapping]] = ..., force: _Optional[bool] = ...) -> None: ...

class JobStarted(_message.Message):
    __slots__ = ("attempt", "step")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    step: str
    def __init__(self, attempt: _Optional[int] = ..., step: _Optional[str] = ...) -> None: ...

class JobSucceeded(_message.Message):
    __slots__ = ("attempt", "step", "reused", "metadata", "derivatives", "started_at")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    REUSED_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DERIVATIVES_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    step: str
    reused: bool
    metadata: _struct_pb2.Struct
    derivatives: _containers.RepeatedCompositeFieldContainer[_common_pb2.Derivative]
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, attempt: _Optional[int] = ..., step: _Optional[str] = ..., reused: _Optional[bool] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., derivatives: _Optional[_Iterable[_Union[_common_pb2.Derivative, _Mapping]]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JobFailed(_message.Message):
    __slots__ = ("attempt", "step", "error", "will_retry", "started_at")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    WILL_RETRY_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    step: str
    error: _common_pb2.ErrorInfo
    will_retry: bool
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, attempt: _Optional[int] = ..., step: _Optional[str] = ..., error: _Optional[_Union[_common_pb2.ErrorInfo, _Mapping]] = ..., will_retry: _Optional[bool] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
