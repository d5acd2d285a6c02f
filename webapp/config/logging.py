"""Hooks Django's logging set-up into the format every service shares."""

from __future__ import annotations

from typing import Any

from usp import logs


def configure_logging(_logging_settings: dict[str, Any]) -> None:
    logs.configure("webapp")
