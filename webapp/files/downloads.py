"""Download responses: whole, partial (206), unsatisfiable (416) or not modified (304).

Bytes stream from storage chunk by chunk (ReadObject with offset and length), so memory
stays flat whatever the size; HEAD answers the same headers without reading any byte.

One place (`_with_headers`) says how every download is marked: an attachment, never
sniffed, sandboxed if a browser opens it anyway. When a separate user-content origin is
set (USP_USERCONTENT_ORIGIN), the site's content endpoints answer with a redirect to a
signed link there instead (`content_response`), and only that origin sends the bytes.
"""

from __future__ import annotations

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
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

# Stored bytes are never a page of any origin, even if a browser opened them.
CONTENT_POLICY = "default-src 'none'; sandbox"


def content_response(request: HttpRequest, target: DownloadTarget, link: str) -> HttpResponseBase:
    """The site's answer for its owner: a redirect to `link`, a signed user-content link
    to the same bytes, when there is one; else the bytes themselves."""
    if not link:
        return download_response(request, target)
    response = HttpResponseRedirect(link)
    # The link is a capability that expires: no cache keeps it.
    response["Cache-Control"] = "no-store"
    return response


def download_response(
    request: HttpRequest, target: DownloadTarget, *, cross_origin: bool = False
) -> HttpResponseBase:
    """The answer to a GET or HEAD of `target`, honouring If-None-Match and Range.

    `cross_origin` lets other origins embed it (the site's pages showing a thumbnail from
    the user-content origin); otherwise only this origin may."""
    if none_match(request.headers.get("If-None-Match"), target.etag):
        return _with_headers(HttpResponse(status=304), target, cross_origin)
    try:
        byte_range = _requested_range(request, target)
    except RangeNotSatisfiable:
        return _unsatisfiable(target)
    if request.method == "HEAD":
        return _with_headers(_head(target, byte_range), target, cross_origin)
    return _with_headers(_streamed(target, byte_range), target, cross_origin)


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
    return response


def _head(target: DownloadTarget, byte_range: ByteRange | None) -> HttpResponseBase:
    response = HttpResponse(status=200 if byte_range is None else 206)
    response["Content-Type"] = target.content_type
    if byte_range is None:
        response["Content-Length"] = str(target.size)
    else:
        _partial_headers(response, byte_range)
    return response


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


def _with_headers(
    response: HttpResponseBase, target: DownloadTarget, cross_origin: bool
) -> HttpResponseBase:
    response["ETag"] = target.etag
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-cache"
    response["Cross-Origin-Resource-Policy"] = "cross-origin" if cross_origin else "same-origin"
    if response.status_code == 304:
        return response
    # Always an attachment, thumbnails included: an <img> shows it all the same.
    response["Content-Disposition"] = content_disposition_header(True, target.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = CONTENT_POLICY
    return response
