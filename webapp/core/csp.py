"""The Content-Security-Policy of the site's pages, built from the deployment's origins."""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL (a CSP source without a path; a port may be *)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(
    storage_public_url: str, *, usercontent_origin: str = "", inline_styles: bool = False
) -> str:
    """Everything from this origin only; upload bytes may also go to the storage data
    plane, and images (thumbnails) may come from the user-content origin when there is
    one. `inline_styles` admits <style> elements (third-party pages that need them)."""
    connect = ["'self'"]
    if storage_public_url:
        connect.append(origin_of(storage_public_url))
    images = ["'self'", "data:", "blob:"]
    if usercontent_origin:
        images.append(origin_of(usercontent_origin))
    style = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    directives = [
        "default-src 'self'",
        f"img-src {' '.join(images)}",
        f"style-src {style}",
        "script-src 'self'",
        f"connect-src {' '.join(connect)}",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ]
    return "; ".join(directives)
