"""The user-content host's one view: the bytes a signed link names."""

from __future__ import annotations

import time

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase

from webapp.core.errors import ApplicationError
from webapp.core.exception_handler import error_body
from webapp.files.downloads import download_response
from webapp.usercontent.selectors import capability_target
from webapp.usercontent.signing import capability_verify

ALLOWED_METHODS = ("GET", "HEAD")


def content(request: HttpRequest, token: str) -> HttpResponseBase:
    """GET or HEAD: the bytes, with the download headers (ranges, ETag) and a resource
    policy that lets the site's pages show images from here. 403 invalid_link, 410
    link_expired, 404 when the file is gone or changed hands, 405 for other methods."""
    if request.method not in ALLOWED_METHODS:
        error = ApplicationError(
            "Links here can only be read (GET or HEAD).",
            code="method_not_allowed",
            http_status=405,
        )
        response = error_response(error)
        response["Allow"] = ", ".join(ALLOWED_METHODS)
        return response
    try:
        capability = capability_verify(token=token, now=time.time())
        target = capability_target(capability=capability)
        return download_response(request, target, cross_origin=True)
    except ApplicationError as error:
        return error_response(error)


def error_response(error: ApplicationError) -> JsonResponse:
    """The project's error body; never cached, since a fresh link may answer otherwise."""
    response = JsonResponse(error_body(error.code, error.message), status=error.http_status)
    response["Cache-Control"] = "no-store"
    return response
