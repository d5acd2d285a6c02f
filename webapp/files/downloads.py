"""Download responses: whole, partial (206), unsatisfiable (416) or not modified (304).

Bytes stream from storage chunk by chunk (ReadObject with offset and length), so memory
stays flat whatever the size; HEAD answers the same headers without reading any byte.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header

from webapp.core.exception_handler import error_body
from webapp.files.ranges import (
    ByteRange,
    RangeNotSatisfiable,
    if_range_allows,
    none_match,
    range_parse,
)
from webapp.files.selectors import DownloadTarget, content_open


def download_response(request: HttpRequest, target: DownloadTarget) -> HttpResponseBase:
    """The answer to a GET or HEAD of `target`, honouring If-None-Match and Range."""
    if none_match(request.headers.get("If-None-Match"), target.etag):
        return _with_headers(HttpResponse(status=304), target)
    try:
        byte_range = _requested_range(request, target)
    except RangeNotSatisfiable:
        return _unsatisfiable(target)
    if request.method == "HEAD":
        return _head(target, byte_range)
    return _streamed(target, byte_range)


def _requested_range(request: HttpRequest, target: DownloadTarget) -> ByteRange | None:
    if not if_range_allows(request.headers.get("If-Range"), target.etag):
        return None
    return range_parse(request.headers.get("Range"), target.size)


def _streamed(target: DownloadTarget, byte_range: ByteRange | None) -> HttpResponseBase:
    response: HttpResponseBase
    if byte_range is None:
        chunks = content_open(target=target)
        response = StreamingHttpResponse(chunks, content_type=target.content_type)
        response["Content-Length"] = str(target.size)
    else:
        chunks = content_open(target=target, offset=byte_range.start, length=byte_range.length)
        response = StreamingHttpResponse(chunks, status=206, content_type=target.content_type)
        _partial_headers(response, byte_range)
    return _with_headers(response, target)


def _head(target: DownloadTarget, byte_range: ByteRange | None) -> HttpResponseBase:
    response = HttpResponse(status=200 if byte_range is None else 206)
    response["Content-Type"] = target.content_type
    if byte_range is None:
        response["Content-Length"] = str(target.size)
    else:
        _partial_headers(response, byte_range)
    return _with_headers(response, target)


def _partial_headers(response: HttpResponseBase, part: ByteRange) -> None:
    response["Content-Range"] = part.content_range
    response["Content-Length"] = str(part.length)


def _unsatisfiable(target: DownloadTarget) -> HttpResponse:
    body = error_body(
        "range_not_satisfiable",
        f"The requested range is outside the content, which has {target.size} bytes.",
    )
    response = JsonResponse(body, status=416)
    response["Content-Range"] = f"bytes */{target.size}"
    response["Accept-Ranges"] = "bytes"
    return response


def _with_headers(response: HttpResponseBase, target: DownloadTarget) -> HttpResponseBase:
    response["ETag"] = target.etag
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-cache"
    if response.status_code == 304:
        return response
    response["Content-Disposition"] = content_disposition_header(True, target.filename)
    response["X-Content-Type-Options"] = "nosniff"
    # Stored bytes are never a page of this site, even if a browser opened them.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
