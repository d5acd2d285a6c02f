"""The user-content host, kept apart from the site inside the same process.

Requests whose Host is USP_USERCONTENT_ORIGIN's are answered here from the user-content
URLconf (signed links only) and go no further: no static files, sessions, CSRF,
authentication, messages or site pages ever see them, so nothing there reads or sets a
cookie. Every other request goes on to the site unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve

from webapp.core.errors import ApplicationError, NotFound
from webapp.core.exception_handler import INTERNAL_MESSAGE
from webapp.files.downloads import CONTENT_POLICY
from webapp.usercontent.hosts import usercontent_request
from webapp.usercontent.links import URLCONF
from webapp.usercontent.views import error_response

logger = logging.getLogger(__name__)


class UserContentHostMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not usercontent_request(request):
            return self.get_response(request)
        response = usercontent_dispatch(request)
        # Whatever answers here, a browser never treats it as a page of any origin.
        response.headers.setdefault("Content-Security-Policy", CONTENT_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def usercontent_dispatch(request: HttpRequest) -> HttpResponseBase:
    """The user-content URLconf's answer: 404 with the error body for any other path,
    500 with it (logged) for an unexpected failure."""
    try:
        match = resolve(request.path_info, urlconf=URLCONF)
    except Resolver404:
        return error_response(NotFound("There is nothing at this address."))
    try:
        response: HttpResponseBase = match.func(request, *match.args, **match.kwargs)
    except Exception:
        logger.exception("user content request failed", extra={"fields": {"view": match.url_name}})
        return error_response(
            ApplicationError(INTERNAL_MESSAGE, code="internal_error", http_status=500)
        )
    return response
