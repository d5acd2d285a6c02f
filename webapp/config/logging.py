"""Hooks Django's logging set-up into the format every service shares."""

from __future__ import annotations

import logging
from typing import Any

from usp import logs


def configure_logging(_logging_settings: dict[str, Any]) -> None:
    """Every record, Django's included, goes through the root handler of usp.logs."""
    logs.configure("webapp")
    for name in ("django", "django.server"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
