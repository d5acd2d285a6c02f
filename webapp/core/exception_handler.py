"""The one translation of errors into API responses: `{"error": {"code", "message"}}`.

Domain errors carry their own code and status; DRF's errors keep their status and
headers (WWW-Authenticate, Retry-After) and get a stable code; Django's refusals of a
request body past its limits are a 413 or 400; anything unexpected is logged and
answered with a 500 that shows no internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from webapp.core.errors import ApplicationError

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Something went wrong on our side. It has been logged; please try again."


def error_body(
    code: str, message: str, fields: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = dict(fields)
    return {"error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, ApplicationError):
        set_rollback()
        body = error_body(exc.code, exc.message, exc.fields)
        return Response(body, status=exc.http_status)
    if isinstance(exc, SuspiciousOperation):
        return _request_refused(exc, context)
    response = drf_exception_handler(exc, context)
    if response is None:
        _log_unexpected(exc, context)
        set_rollback()
        return Response(error_body("internal_error", INTERNAL_MESSAGE), status=500)
    response.data = _api_exception_body(exc)
    return response


def _api_exception_body(exc: Exception) -> dict[str, dict[str, Any]]:
    if isinstance(exc, exceptions.ValidationError):
        return _validation_body(exc.detail)
    detail = getattr(exc, "detail", None)
    message = str(detail) if detail else str(exc)
    return error_body(_code_for(exc, message), message)


def _code_for(exc: Exception, message: str) -> str:
    # Django's Http404/PermissionDenied reach here converted by DRF's own handler.
    if isinstance(exc, exceptions.APIException):
        if isinstance(exc, exceptions.PermissionDenied) and message.startswith("CSRF Failed"):
            return "csrf_failed"
        return str(exc.default_code)
    return "not_found" if exc.__class__.__name__ == "Http404" else "permission_denied"


def _validation_body(detail: Any) -> dict[str, dict[str, Any]]:
    plain = _plain(detail)
    if isinstance(plain, dict):
        first = "; ".join(f"{name}: {_first(errors)}" for name, errors in plain.items())
        return error_body("invalid_input", f"Invalid input. {first}", plain)
    messages = plain if isinstance(plain, list) else [plain]
    return error_body("invalid_input", " ".join(str(m) for m in messages) or "Invalid input.")


def _plain(detail: Any) -> Any:
    """ErrorDetail strings, lists and dicts as plain JSON values."""
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(value) for value in detail]
    return str(detail)


def _first(errors: Any) -> str:
    while isinstance(errors, list) and errors:
        errors = errors[0]
    if isinstance(errors, dict):
        return "; ".join(f"{key}: {_first(value)}" for key, value in errors.items())
    return str(errors)


def _request_refused(exc: SuspiciousOperation, context: dict[str, Any]) -> Response:
    """Django raises these while the view reads the body (settings.DATA_UPLOAD_*, a
    malformed multipart form); their own messages name settings, so they are not shown."""
    status, code, message = _refusal(exc)
    request = context.get("request")
    logger.warning(
        "request body refused",
        extra={"fields": {"path": getattr(request, "path", ""), "reason": type(exc).__name__}},
    )
    set_rollback()
    return Response(error_body(code, message), status=status)


def _refusal(exc: SuspiciousOperation) -> tuple[int, str, str]:
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return 413, "too_large", f"The request body is too large: at most {limit} bytes."
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, "too_many_fields", f"The request has too many fields: at most {limit}."
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return 400, "too_many_files", f"The request has too many files: at most {limit}."
    return 400, "bad_request", "The request could not be read."


def _log_unexpected(exc: Exception, context: dict[str, Any]) -> None:
    request = context.get("request")
    logger.error(
        "unhandled error in API view",
        exc_info=exc,
        extra={
            "fields": {
                "view": context.get("view").__class__.__name__,
                "path": getattr(request, "path", ""),
            }
        },
    )
