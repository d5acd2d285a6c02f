from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    name = "webapp.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        _ensure_sqlite_directory()
        _ensure_static_root()


def _ensure_sqlite_directory() -> None:
    """The embedded default keeps its SQLite file in the data directory; create it."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = str(database["NAME"])
        if name and not name.startswith(":memory:") and not name.startswith("file:"):
            Path(name).parent.mkdir(parents=True, exist_ok=True)


def _ensure_static_root() -> None:
    """WhiteNoise serves STATIC_ROOT too and warns when it is missing."""
    if settings.STATIC_ROOT:
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
