"""Which requests are for the user-content origin: decided by the Host header alone."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port

DEFAULT_PORTS = {"http": 80, "https": 443}


def usercontent_request(request: HttpRequest) -> bool:
    """Whether the request is addressed to USP_USERCONTENT_ORIGIN's host (never when it
    is unset). An unknown Host is refused by Django (400) as before."""
    origin = settings.USP.usercontent_origin
    return bool(origin) and host_names_origin(request.get_host(), origin)


def host_names_origin(host: str, origin: str) -> bool:
    """Whether a Host header value names the origin: its host name, with its port or with
    none (a proxy in front may drop the port)."""
    parts = urlsplit(origin)
    domain, port = split_domain_port(host)
    if domain.strip("[]") != parts.hostname:
        return False
    return port in ("", str(parts.port or DEFAULT_PORTS[parts.scheme]))
