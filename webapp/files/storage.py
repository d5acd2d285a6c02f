"""The process's one client of the storage service, and how its errors read to users."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from usp.errors import ServiceError
from usp.grpc_tls import TlsFiles
from usp.storage_client import StorageClient
from webapp.core.errors import (
    ApplicationError,
    Conflict,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    TypeNotAllowed,
)

logger = logging.getLogger(__name__)

STORAGE_UNAVAILABLE_MESSAGE = (
    "The storage service is unavailable right now; nothing was stored. Try again shortly."
)
# Storage prefixes its refusal of a type outside the policy with this code.
TYPE_NOT_ALLOWED_PREFIX = "type_not_allowed"

_lock = threading.Lock()
_client: StorageClient | None = None
_client_key: tuple[str, str, TlsFiles | None] | None = None


def get_storage_client() -> StorageClient:
    """The storage client for the current settings, built on first use.

    A change of target, token or TLS files (tests override settings) builds a new one.
    """
    global _client, _client_key
    key = (settings.USP.storage_grpc_target, settings.USP.service_token, settings.USP.grpc_tls)
    with _lock:
        if _client is None or _client_key != key:
            if _client is not None:
                _client.close()
            _client = StorageClient(key[0], key[1], tls=key[2])
            _client_key = key
            logger.info(
                "storage client created",
                extra={"fields": {"target": key[0], "tls": key[2] is not None}},
            )
        return _client


def storage_error(error: ServiceError) -> ApplicationError:
    """The domain error for a failed storage call, with a message fit for users."""
    if error.unavailable:
        return ServiceUnavailable(STORAGE_UNAVAILABLE_MESSAGE, code="storage_unavailable")
    status = error.http_status
    if status == 400 and error.message.startswith(TYPE_NOT_ALLOWED_PREFIX):
        return _type_not_allowed(error.message)
    if status == 400:
        return InvalidInput(error.message, code="rejected_by_storage")
    if status == 404:
        return NotFound("Storage has no such object.", code="not_in_storage")
    if status == 409:
        return Conflict(error.message, code="storage_conflict")
    if status == 413:
        return ApplicationError(error.message, code="too_large", http_status=413)
    logger.error(
        "storage call failed",
        extra={"fields": {"status": error.status.name, "message": error.message}},
    )
    return ApplicationError(
        "The storage service failed to handle the request.", code="storage_error", http_status=502
    )


def _type_not_allowed(message: str) -> TypeNotAllowed:
    reason = message.removeprefix(TYPE_NOT_ALLOWED_PREFIX).lstrip(" :")
    return TypeNotAllowed(
        f"Files of this type are not accepted here: {reason}"
        if reason
        else "Files of this type are not accepted here."
    )
