"""Where a file's bytes and derivatives download from (the REST API)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from webapp.files.models import File


def file_content_path(file: File) -> str:
    return reverse("files:file-content", kwargs={"file_id": str(file.pk)})


def derivative_content_path(file: File, kind: str) -> str:
    return reverse("files:derivative-content", kwargs={"file_id": str(file.pk), "kind": kind})


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    """An absolute URL: from the request when there is one, else from USP_PUBLIC_URL,
    else the path as it is."""
    if request is not None:
        return request.build_absolute_uri(path)
    if settings.USP.public_url:
        return settings.USP.public_url + path
    return path
