"""Liveness and readiness probes, and the error pages of the API's paths."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from webapp.core.exception_handler import INTERNAL_MESSAGE, error_body
from webapp.core.health import readiness


@never_cache
@require_safe
def healthz(_request: HttpRequest) -> JsonResponse:
    """The process answers: nothing else is checked."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(_request: HttpRequest) -> JsonResponse:
    """Ready when the database, storage and broker all answer; 503 naming the others."""
    checks = readiness()
    ready = all(result == "ok" for result in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        message = "There is nothing at this address."
        return JsonResponse(error_body("not_found", message), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("internal_error", INTERNAL_MESSAGE), status=500)
    return defaults.server_error(request)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")
