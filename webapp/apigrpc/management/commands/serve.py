"""`manage.py serve`: the web server and the gRPC ApiService in one process."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from webapp.apigrpc.serving import DEFAULT_GRACE, ApiServer, WebServer, serve


class Command(BaseCommand):
    help = (
        "Serve the webapp over HTTP (waitress) and the gRPC ApiService until SIGTERM or "
        "SIGINT. Addresses default to USP_WEB_HOST:USP_WEB_PORT and "
        "USP_API_GRPC_HOST:USP_API_GRPC_PORT."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--web-host", default=None, help="address the HTTP server binds")
        parser.add_argument("--web-port", type=int, default=None, help="HTTP port")
        parser.add_argument("--api-host", default=None, help="address the ApiService binds")
        parser.add_argument("--api-port", type=int, default=None, help="gRPC ApiService port")
        parser.add_argument(
            "--grace", type=float, default=DEFAULT_GRACE, help="seconds to finish calls on stop"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        serve(
            web_host=options["web_host"] or settings.USP.web_host,
            web_port=_port(options["web_port"], settings.USP.web_port),
            api_host=options["api_host"] or settings.USP.api_grpc_host,
            api_port=_port(options["api_port"], settings.USP.api_grpc_port),
            grace=options["grace"],
            on_started=self._announce,
        )
        self.stdout.write("stopped")

    def _announce(self, web: WebServer, api: ApiServer) -> None:
        self.stdout.write(f"web: {web.url}/  gRPC ApiService: {api.target}")
        self.stdout.flush()


def _port(option: int | None, default: int) -> int:
    return default if option is None else option
