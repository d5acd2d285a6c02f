"""The one hierarchy of domain errors.

Services and selectors raise these; the edges translate them: the DRF exception handler
to `{"error": {"code", "message"}}` with `http_status`, the gRPC API to the status of
`usp.errors.grpc_status_for(http_status)`, the pages to messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ApplicationError(Exception):
    """A failure a caller can act on: a stable `code`, a `message` for people."""

    default_code = "error"
    default_http_status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.http_status = http_status or self.default_http_status
        self.fields = dict(fields) if fields else None


class InvalidInput(ApplicationError):
    default_code = "invalid_input"
    default_http_status = 400


class NotFound(ApplicationError):
    default_code = "not_found"
    default_http_status = 404


class Conflict(ApplicationError):
    default_code = "conflict"
    default_http_status = 409


class ServiceUnavailable(ApplicationError):
    default_code = "service_unavailable"
    default_http_status = 503


class TooLarge(ApplicationError):
    default_code = "too_large"
    default_http_status = 413


class QuotaExceeded(ApplicationError):
    default_code = "quota_exceeded"
    default_http_status = 413


class TypeNotAllowed(ApplicationError):
    default_code = "type_not_allowed"
    default_http_status = 415


class Unprocessable(ApplicationError):
    """Well-formed, but not something that can be done (e.g. a reused idempotency key)."""

    default_code = "unprocessable"
    default_http_status = 422
