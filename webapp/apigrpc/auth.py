"""Who is calling: the user of the API token in the call's `authorization` metadata."""

from __future__ import annotations

import grpc

from webapp.accounts.models import User
from webapp.accounts.services import user_for_authorization_header

AUTHORIZATION = "authorization"
UNAUTHENTICATED_MESSAGE = 'missing or invalid API token; send "authorization: Token <key>"'


def authorization_value(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == AUTHORIZATION and isinstance(value, str):
            return value
    return ""


def authenticated_user(context: grpc.ServicerContext) -> User:
    """The caller's user ("Token <key>" or "Bearer <key>"); aborts with UNAUTHENTICATED."""
    user = user_for_authorization_header(authorization_value(context))
    if user is not None:
        return user
    context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
    raise AssertionError("unreachable: abort() raises")
