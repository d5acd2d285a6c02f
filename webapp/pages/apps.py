from __future__ import annotations

from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The HTML pages: landing, upload, the file list and each file."""

    name = "webapp.pages"
    label = "pages"
    verbose_name = "Pages"
