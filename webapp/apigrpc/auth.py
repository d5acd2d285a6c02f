"""Who is calling: the user of the API token in the call's `authorization` metadata,
within the API's request rate for that user."""

from __future__ import annotations

import grpc

from webapp.accounts.models import User
from webapp.accounts.services import user_for_authorization_header
from webapp.core.throttling import API, throttle_wait, user_caller

AUTHORIZATION = "authorization"
# Trailing metadata of a throttled call: whole seconds until calls are allowed again.
RETRY_AFTER = "retry-after"
UNAUTHENTICATED_MESSAGE = 'missing or invalid API token; send "authorization: Token <key>"'


def authorization_value(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == AUTHORIZATION and isinstance(value, str):
            return value
    return ""


def authenticated_user(context: grpc.ServicerContext) -> User:
    """The caller's user ("Token <key>" or "Bearer <key>"), counting this call against
    the user's API rate (the REST API's "api" scope). Aborts with UNAUTHENTICATED, or
    RESOURCE_EXHAUSTED with "retry-after" seconds in the trailing metadata past the rate."""
    user = user_for_authorization_header(authorization_value(context))
    if user is None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
        raise AssertionError("unreachable: abort() raises")
    wait = throttle_wait(scope=API, caller=user_caller(user.pk))
    if wait is not None:
        context.set_trailing_metadata(((RETRY_AFTER, str(wait)),))
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"Request was throttled. Expected available in {wait} seconds.",
        )
    return user
