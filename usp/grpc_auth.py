"""Service-to-service authentication for gRPC: a bearer token in the call metadata.

The server side is an interceptor that refuses every call, streaming ones included,
that lacks the token; the client side is the metadata to attach to each call.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc

AUTHORIZATION = "authorization"


def service_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return ((AUTHORIZATION, f"Bearer {token}"),)


def bearer_token(metadata: Any) -> str:
    """The token of an `authorization: Bearer <token>` entry, or ''."""
    for key, value in metadata or ():
        if key == AUTHORIZATION and isinstance(value, str) and value.startswith("Bearer "):
            return value.removeprefix("Bearer ")
    return ""


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same streaming shape that aborts with UNAUTHENTICATED."""

    def abort(_request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid service token")

    kinds: dict[tuple[bool, bool], Callable[..., grpc.RpcMethodHandler]] = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(
        abort,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class ServiceTokenInterceptor(grpc.ServerInterceptor):
    """Refuses any call whose metadata does not carry the service token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("a service token is required")
        self._token = token.encode()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        presented = bearer_token(handler_call_details.invocation_metadata).encode()
        if hmac.compare_digest(presented, self._token):
            return handler
        return _refusal(handler)
