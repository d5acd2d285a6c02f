"""The data plane's ASGI application: tus 1.0.0 on signed upload locations.

    OPTIONS  any path        discovery (Tus-Version, Tus-Extension, ...), CORS preflight
    HEAD     /uploads/<id>?…  Upload-Offset, Upload-Length, Upload-Expires
    PATCH    /uploads/<id>?…  bytes at Upload-Offset (application/offset+octet-stream)
    POST     /uploads/<id>?…  creation confirmation (Upload-Length); with a body, also
                              creation-with-upload
    PUT      /uploads/<id>?…  the whole body at once, for plain clients (curl -T)
    DELETE   /uploads/<id>?…  termination
    GET      /healthz         liveness

The location (`?owner=…&size=…&expires=…&kid=…&sig=…`) is checked first: 403 unsigned,
tampered or unknown key, 410 expired, 404 unknown, completed, aborted or rejected.
Then: 400 malformed headers, 409 wrong offset, 412 unsupported Tus-Resumable, 413 bytes
past the declared size (none of them written), 415 wrong Content-Type or a sniffed type
outside the policy, 422 SHA-256 mismatch, 423 another request is writing, 460 chunk
checksum mismatch, 408 a body silent for the data plane timeout (bytes so far kept).
Errors carry {"error": {"code", "message"}}; every response carries Tus-Resumable.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from storage_service.dataplane import tus
from storage_service.dataplane.body import BackgroundWriter, BodyResult, stream_body
from storage_service.dataplane.http import (
    TUS_EXTENSIONS,
    TUS_VERSION,
    BadHeader,
    Cors,
    Receive,
    Request,
    Responder,
    Scope,
    Send,
    error_body,
)
from storage_service.errors import (
    InvalidObject,
    OffsetMismatch,
    StorageError,
    TooLarge,
)
from storage_service.partials import CHECKSUM_ALGORITHMS, ChunkChecksum, PartialWrite
from storage_service.records import UploadInfo
from storage_service.uploads import BodyEnd, Settled, Uploads

logger = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[Request, str, Receive, Responder], Awaitable[None]]

UPLOAD_PATH = re.compile(r"(?:/.*)?/uploads/([^/]+)/?")
_BODY_END = {
    BodyResult.COMPLETE: BodyEnd.COMPLETE,
    BodyResult.DISCONNECTED: BodyEnd.INTERRUPTED,
    BodyResult.TIMED_OUT: BodyEnd.INTERRUPTED,
    BodyResult.TOO_LARGE: BodyEnd.TOO_LARGE,
    BodyResult.FAILED: BodyEnd.FAILED,
}


class DataPlaneApp:
    def __init__(
        self,
        uploads: Uploads,
        *,
        executor: Executor,
        cors_origins: Sequence[str],
        timeout: float,
    ) -> None:
        self._uploads = uploads
        self._executor = executor
        self._cors = Cors(cors_origins)
        self._timeout = timeout
        self._handlers: dict[str, Handler] = {
            "HEAD": self._head,
            "PATCH": self._patch,
            "POST": self._post,
            "PUT": self._put,
            "DELETE": self._delete,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request.from_scope(scope)
        common = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}
        responder = Responder(send, {**common, **self._cors.headers(request)})
        try:
            await self._route(request, receive, responder)
        except StorageError as error:
            await self._refuse(request, responder, error)
        except BadHeader as error:
            await responder.error(400, "bad_request", str(error), head=request.method == "HEAD")
        except Exception:
            logger.exception("data plane request failed", extra={"fields": _fields(request)})
            if not responder.sent:
                await responder.error(500, "internal", "internal error")

    async def _route(self, request: Request, receive: Receive, responder: Responder) -> None:
        if request.method == "OPTIONS":
            await self._options(request, responder)
            return
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            await responder.respond(200, body=b"ok\n", content_type="text/plain")
            return
        match = UPLOAD_PATH.fullmatch(request.path)
        if match is None:
            await responder.error(404, "not_found", "no such resource")
            return
        version = request.header("tus-resumable")
        if version is not None and version.strip() != TUS_VERSION:
            await responder.respond(412, {"Tus-Version": TUS_VERSION})
            return
        handler = self._handlers.get(request.method)
        if handler is None:
            await responder.respond(405, {"Allow": ", ".join(["OPTIONS", *self._handlers])})
            return
        await handler(request, match.group(1), receive, responder)

    async def _refuse(self, request: Request, responder: Responder, error: StorageError) -> None:
        status = tus.status_for(error)
        if status == 500:
            logger.error("data plane error", extra={"fields": {**_fields(request), "error": error}})
        else:
            logger.info(
                "upload request refused",
                extra={"fields": {**_fields(request), "status": status, "code": error.code}},
            )
        # A body past the size may still be arriving: close instead of draining it.
        await responder.error(
            status,
            error.code,
            error.message,
            head=request.method == "HEAD",
            close=isinstance(error, TooLarge),
        )

    async def _options(self, request: Request, responder: Responder) -> None:
        headers = {
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(self._uploads.max_size),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        }
        if Cors.is_preflight(request):
            preflight = self._cors.preflight(request)
            if preflight is None:
                await responder.error(403, "origin_not_allowed", "this origin may not upload")
                return
            headers.update(preflight)
        await responder.respond(204, headers)

    async def _head(
        self, request: Request, session_id: str, receive: Receive, responder: Responder
    ) -> None:
        info = await self._authorize(session_id, request)
        if info.offset == info.size:
            info = await self._run(self._uploads.complete_if_full, info)
        headers = {**tus.progress_headers(info), "Upload-Length": str(info.size)}
        await responder.respond(200, headers)

    async def _patch(
        self, request: Request, session_id: str, receive: Receive, responder: Responder
    ) -> None:
        info = await self._authorize(session_id, request)
        tus.require_octet_stream(request)
        offset = request.required_int_header("upload-offset")
        checksum = tus.checksum(request)
        if offset != info.offset:
            raise OffsetMismatch(
                f"Upload-Offset {offset} does not match the upload's offset {info.offset}"
            )
        tus.refuse_oversized(request, info, offset)
        result, settled = await self._write(info, receive, offset=offset, checksum=checksum)
        await self._answer(responder, result, settled, 204, tus.progress_headers(settled.info))

    async def _post(
        self, request: Request, session_id: str, receive: Receive, responder: Responder
    ) -> None:
        info = await self._authorize(session_id, request)
        if request.header("upload-defer-length") is not None:
            raise BadHeader("Upload-Defer-Length is not supported: the upload's size is fixed")
        length = request.required_int_header("upload-length")
        if length > info.size:
            raise TooLarge(f"Upload-Length {length} exceeds the upload's {info.size} bytes")
        if length != info.size:
            raise BadHeader(f"Upload-Length {length} does not match the declared {info.size}")
        result = BodyResult.COMPLETE
        if request.has_body:
            tus.require_octet_stream(request)
            if info.offset != 0:
                raise OffsetMismatch(f"the upload already has {info.offset} bytes; use PATCH")
            tus.refuse_oversized(request, info, 0)
            result, settled = await self._write(
                info, receive, offset=0, checksum=tus.checksum(request)
            )
            info = settled.info
        else:
            info = await self._run(self._uploads.complete_if_full, info)
        headers = {"Location": info.upload_url, **tus.progress_headers(info)}
        await self._answer(responder, result, Settled(info), 201, headers)

    async def _put(
        self, request: Request, session_id: str, receive: Receive, responder: Responder
    ) -> None:
        info = await self._authorize(session_id, request)
        length = request.int_header("content-length")
        if length is not None and length != info.size:
            if length > info.size:
                raise TooLarge(f"the body has {length} bytes; the upload allows {info.size}")
            raise InvalidObject(
                f"size mismatch: the body has {length} bytes, the upload {info.size}",
                code="size_mismatch",
            )
        result, settled = await self._write(
            info, receive, offset=None, checksum=tus.checksum(request)
        )
        headers = tus.progress_headers(settled.info)
        if result is BodyResult.COMPLETE and settled.stored is None:
            message = f"the body ended after {settled.info.offset} of {info.size} bytes"
            await responder.respond(
                400,
                headers,
                error_body("incomplete_upload", message),
                content_type="application/json",
            )
            return
        await self._answer(responder, result, settled, 200, headers, body=tus.stored_body(settled))

    async def _delete(
        self, request: Request, session_id: str, receive: Receive, responder: Responder
    ) -> None:
        info = await self._authorize(session_id, request)
        await self._run(self._uploads.terminate, info)
        await responder.respond(204)

    async def _authorize(self, session_id: str, request: Request) -> UploadInfo:
        return await self._run(self._uploads.authorize, session_id, request.query)

    async def _write(
        self,
        info: UploadInfo,
        receive: Receive,
        *,
        offset: int | None,
        checksum: ChunkChecksum | None,
    ) -> tuple[BodyResult, Settled]:
        """Stream the body into the upload at `offset` (None: start over), then settle it."""
        write = await self._begin_write(info, offset=offset, checksum=checksum)
        writer = BackgroundWriter(self._executor, [write.store, write.digest])
        result = BodyResult.DISCONNECTED
        try:
            result = await stream_body(
                receive, writer, limit=info.size - write.start, timeout=self._timeout
            )
        finally:
            # Shielded: even when this request is cancelled (shutdown), the worker keeps
            # the bytes received so far and releases the upload's lock.
            settling = self._executor.submit(self._settle, info, write, writer, result)
            settled = await asyncio.shield(asyncio.wrap_future(settling))
        return result, settled

    async def _begin_write(
        self, info: UploadInfo, *, offset: int | None, checksum: ChunkChecksum | None
    ) -> PartialWrite:
        future = self._executor.submit(
            self._uploads.begin_write, info, offset=offset, checksum=checksum
        )
        try:
            return await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            future.add_done_callback(_release)  # the lock it may still take
            raise

    def _settle(
        self, info: UploadInfo, write: PartialWrite, writer: BackgroundWriter, result: BodyResult
    ) -> Settled:
        failure: Exception | None = None
        try:
            writer.join()
        except Exception as exc:
            failure, result = exc, BodyResult.FAILED
        settled = self._uploads.settle(info, write, ended=_BODY_END[result])
        if failure is not None:
            raise failure
        return settled

    async def _answer(
        self,
        responder: Responder,
        result: BodyResult,
        settled: Settled,
        status: int,
        headers: dict[str, str],
        body: bytes = b"",
    ) -> None:
        if result is BodyResult.TIMED_OUT:
            message = f"no bytes arrived for {self._timeout:g} s; the bytes received are kept"
            await responder.respond(
                408,
                headers,
                error_body("timeout", message),
                content_type="application/json",
                close=True,
            )
            return
        content_type = "application/json" if body else ""
        await responder.respond(status, headers, body, content_type=content_type)

    async def _run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        future = self._executor.submit(function, *args, **kwargs)
        return await asyncio.wrap_future(future)


def _release(future: Future[PartialWrite]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _fields(request: Request) -> dict[str, object]:
    return {"method": request.method, "path": request.path}
