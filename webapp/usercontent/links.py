"""Signed links on the user-content origin, for whatever hands out download addresses."""

from __future__ import annotations

import time

from django.conf import settings
from django.urls import reverse

from webapp.files.models import File
from webapp.usercontent.signing import capability_issue, capability_sign

URLCONF = "webapp.usercontent.urls"


def usercontent_link(*, file: File, kind: str = "", now: float | None = None) -> str:
    """A signed link to `file`'s bytes (kind "") or its `kind` derivative on
    USP_USERCONTENT_ORIGIN, living USP_USERCONTENT_LINK_SECONDS; empty when no
    user-content origin is set (the site then serves the bytes itself)."""
    origin = settings.USP.usercontent_origin
    if not origin:
        return ""
    capability = capability_issue(
        file_id=file.pk,
        kind=kind,
        owner_id=file.owner_id,
        lifetime=settings.USP.usercontent_link_seconds,
        now=time.time() if now is None else now,
    )
    token = capability_sign(capability=capability)
    return origin + reverse("content", urlconf=URLCONF, kwargs={"token": token})
