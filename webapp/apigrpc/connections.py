"""Django database connections in gRPC's worker threads.

Django keeps one connection per thread and relies on the request cycle to retire old or
broken ones. gRPC threads have no request cycle, so this interceptor gives each call
the same treatment: close_old_connections() before and after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from django.db import close_old_connections

Behavior = Callable[[Any, grpc.ServicerContext], Any]


def _unary(behavior: Behavior) -> Behavior:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        close_old_connections()
        try:
            return behavior(request, context)
        finally:
            close_old_connections()

    return call


def _streaming(behavior: Behavior) -> Behavior:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        close_old_connections()
        try:
            yield from behavior(request, context)
        finally:
            close_old_connections()

    return call


def with_connection_hygiene(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """The same handler with its (unary-request) behavior wrapped; streaming requests
    are not used by the ApiService and pass through unchanged."""
    if handler.request_streaming:
        return handler
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        _unary(handler.unary_unary),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class DatabaseConnectionInterceptor(grpc.ServerInterceptor):
    """Applies `with_connection_hygiene` to the methods of the named services."""

    def __init__(self, services: tuple[str, ...]) -> None:
        self._prefixes = tuple(f"/{service}/" for service in services)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(self._prefixes):
            return handler
        return with_connection_hygiene(handler)
