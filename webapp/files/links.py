"""Where a file's bytes and derivatives download from.

With USP_USERCONTENT_ORIGIN set, the addresses handed out (REST, gRPC, the upload page)
are short-lived signed links on that origin; the site's own content endpoints then
redirect there. Without it, they are the site's content endpoints.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from webapp.files.models import File
from webapp.usercontent.links import usercontent_link


def file_content_path(file: File) -> str:
    return reverse("files:file-content", kwargs={"file_id": str(file.pk)})


def derivative_content_path(file: File, kind: str) -> str:
    return reverse("files:derivative-content", kwargs={"file_id": str(file.pk), "kind": kind})


def content_path(file: File, kind: str = "") -> str:
    """The site's content endpoint for the original (kind "") or a derivative."""
    return derivative_content_path(file, kind) if kind else file_content_path(file)


def content_url(file: File, kind: str = "", *, request: HttpRequest | None = None) -> str:
    """Where the original (kind "") or a derivative downloads from: a signed user-content
    link when that origin is set, else the site's endpoint (see `absolute_url`)."""
    return usercontent_link(file=file, kind=kind) or absolute_url(content_path(file, kind), request)


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    """An absolute URL: from the request when there is one, else from USP_PUBLIC_URL,
    else the path as it is."""
    if request is not None:
        return request.build_absolute_uri(path)
    if settings.USP.public_url:
        return settings.USP.public_url + path
    return path
