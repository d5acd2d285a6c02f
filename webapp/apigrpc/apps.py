from __future__ import annotations

from django.apps import AppConfig


class ApiGrpcConfig(AppConfig):
    """The gRPC ApiService and the `serve` command that runs it beside the web server."""

    name = "webapp.apigrpc"
    label = "apigrpc"
    verbose_name = "gRPC API"
