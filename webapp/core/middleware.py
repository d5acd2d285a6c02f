"""Security headers every page carries, whatever the settings module."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from webapp.core.csp import content_security_policy

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """Adds the site's policy (webapp.core.csp) to responses that carry none of their
    own; downloads set a stricter sandbox and keep it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy_for(request.path)
        return response


def policy_for(path: str) -> str:
    """The policy for a path: inline styles only under settings.USP_CSP_INLINE_STYLE_PATHS."""
    prefixes: tuple[str, ...] = tuple(getattr(settings, "USP_CSP_INLINE_STYLE_PATHS", ()))
    return content_security_policy(
        settings.USP.storage_public_url,
        usercontent_origin=settings.USP.usercontent_origin,
        inline_styles=path.startswith(prefixes),
    )
