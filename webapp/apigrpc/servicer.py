"""The ApiService: messages in, selectors with keyword arguments, messages out."""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from usp.errors import grpc_status_for
from usp.v1 import api_service_pb2, api_service_pb2_grpc
from webapp.apigrpc.auth import authenticated_user
from webapp.apigrpc.converters import file_to_proto
from webapp.core.errors import ApplicationError
from webapp.files.models import SETTLED_FILE_STATES, File
from webapp.files.selectors import file_get, file_list
from webapp.files.watching import POLL_INTERVAL, file_changes

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_OFFSET_MARK = "offset:"

Method = TypeVar("Method", bound=Callable[..., Any])


def _abort(context: grpc.ServicerContext, error: ApplicationError) -> None:
    context.abort(grpc_status_for(error.http_status), error.message)


def unary(method: Method) -> Method:
    """Domain errors become the gRPC status of the one shared table."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except ApplicationError as error:
            _abort(context, error)

    return wrapper  # type: ignore[return-value]


def streaming(method: Method) -> Method:
    """As `unary`, for methods that yield their responses."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from method(self, request, context)
        except ApplicationError as error:
            _abort(context, error)

    return wrapper  # type: ignore[return-value]


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_OFFSET_MARK}{offset}".encode()).decode()


def decode_page_token(token: str) -> int:
    """The offset in a token from `encode_page_token`; '' is the first page."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    digits = text.removeprefix(_OFFSET_MARK)
    if not text.startswith(_OFFSET_MARK) or not digits.isdigit():
        raise ApplicationError("invalid page_token", code="invalid_page_token", http_status=400)
    return int(digits)


def page_size(requested: int) -> int:
    if requested < 0:
        raise ApplicationError("page_size must not be negative", http_status=400)
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


class ApiServicer(api_service_pb2_grpc.ApiServiceServicer):
    """`public_url` makes derivative links absolute; `close()` ends the open watches."""

    def __init__(self, *, public_url: str = "", poll_interval: float = POLL_INTERVAL) -> None:
        self._public_url = public_url
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._watches: set[threading.Event] = set()
        self._closed = False

    @unary
    def ListFiles(
        self, request: api_service_pb2.ListFilesRequest, context: grpc.ServicerContext
    ) -> api_service_pb2.ListFilesResponse:
        user = authenticated_user(context)
        offset, size = decode_page_token(request.page_token), page_size(request.page_size)
        files = list(file_list(user=user)[offset : offset + size + 1])
        return api_service_pb2.ListFilesResponse(
            files=[file_to_proto(f, public_url=self._public_url) for f in files[:size]],
            next_page_token=encode_page_token(offset + size) if len(files) > size else "",
        )

    @unary
    def GetFile(
        self, request: api_service_pb2.GetFileRequest, context: grpc.ServicerContext
    ) -> api_service_pb2.File:
        user = authenticated_user(context)
        file = file_get(user=user, file_id=request.id)
        return file_to_proto(file, public_url=self._public_url)

    @streaming
    def WatchFile(
        self, request: api_service_pb2.WatchFileRequest, context: grpc.ServicerContext
    ) -> Iterator[api_service_pb2.File]:
        user = authenticated_user(context)
        ended = self._watch_started(context)
        last: File | None = None
        try:
            for last in file_changes(
                user=user, file_id=request.id, stopped=ended, poll_interval=self._poll_interval
            ):
                yield file_to_proto(last, public_url=self._public_url)
        finally:
            self._watch_finished(ended)
        if self._closed and last is not None and last.state not in SETTLED_FILE_STATES:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the server is stopping; watch again")

    def close(self) -> None:
        """End every open watch now (the server is stopping); refuse to start new ones."""
        with self._lock:
            self._closed = True
            for ended in self._watches:
                ended.set()

    def _watch_started(self, context: grpc.ServicerContext) -> threading.Event:
        """An event set when the call ends (cancelled, deadline passed) or on close()."""
        ended = threading.Event()
        if not context.add_callback(ended.set):
            ended.set()
        with self._lock:
            self._watches.add(ended)
            if self._closed:
                ended.set()
        return ended

    def _watch_finished(self, ended: threading.Event) -> None:
        with self._lock:
            self._watches.discard(ended)
