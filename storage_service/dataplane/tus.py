"""tus request rules and the one table from domain errors to HTTP statuses."""

from __future__ import annotations

import json

from storage_service.dataplane.http import OFFSET_OCTET_STREAM, Request, http_date
from storage_service.errors import (
    AlreadyExists,
    ChecksumMismatch,
    Forbidden,
    InvalidObject,
    Locked,
    ObjectNotFound,
    OffsetMismatch,
    SessionExpired,
    StorageError,
    TooLarge,
    UploadRejected,
)
from storage_service.partials import ChunkChecksum
from storage_service.records import UploadInfo
from storage_service.uploads import Settled


class UnsupportedMediaType(StorageError):
    """A body sent with a Content-Type tus does not accept for it."""

    code = "unsupported_media_type"


STATUS_FOR_ERROR: dict[type[StorageError], int] = {
    Forbidden: 403,
    ObjectNotFound: 404,
    SessionExpired: 410,
    OffsetMismatch: 409,
    AlreadyExists: 409,
    Locked: 423,
    ChecksumMismatch: 460,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidObject: 400,
}
STATUS_FOR_REJECTION = {
    "sha256_mismatch": 422,
    "size_mismatch": 422,
    "type_not_allowed": 415,
    "already_exists": 409,
}


def status_for(error: StorageError) -> int:
    """The HTTP status of a domain error (500 for one the table does not name)."""
    if isinstance(error, UploadRejected):
        return STATUS_FOR_REJECTION.get(error.code, 422)
    for kind in type(error).__mro__:
        if kind in STATUS_FOR_ERROR:
            return STATUS_FOR_ERROR[kind]  # type: ignore[index]
    return 500


def require_octet_stream(request: Request) -> None:
    if request.content_type != OFFSET_OCTET_STREAM:
        raise UnsupportedMediaType(f"the body's Content-Type must be {OFFSET_OCTET_STREAM}")


def checksum(request: Request) -> ChunkChecksum | None:
    """The request's Upload-Checksum, if it sent one."""
    header = request.header("upload-checksum")
    return None if header is None else ChunkChecksum.parse(header)


def refuse_oversized(request: Request, info: UploadInfo, offset: int) -> None:
    """413 before reading a body whose Content-Length already runs past the size."""
    length = request.int_header("content-length")
    if length is not None and offset + length > info.size:
        raise TooLarge(f"{length} bytes at offset {offset} run past the upload's {info.size} bytes")


def progress_headers(info: UploadInfo) -> dict[str, str]:
    return {"Upload-Offset": str(info.offset), "Upload-Expires": http_date(info.expires_at)}


def stored_body(settled: Settled) -> bytes:
    """What a plain PUT answers: the object the upload became, as JSON."""
    if settled.stored is None:
        return b""
    obj = settled.stored.object
    document = {
        "file_id": settled.info.file_id,
        "sha256": obj.sha256,
        "size": obj.size,
        "content_type": obj.content_type,
    }
    return json.dumps(document).encode()
