"""Logging set-up shared by the services: one line per record, key=value fields."""

from __future__ import annotations

import logging
import os

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s%(fields)s"


class _FieldsFilter(logging.Filter):
    """Renders `extra={"fields": {...}}` as trailing key=value pairs."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = "".join(f" {key}={value}" for key, value in fields.items())
        else:
            record.fields = ""
        return True


def configure(service: str) -> None:
    """Configure the root logger once for a service process (level from USP_LOG_LEVEL)."""
    level = os.environ.get("USP_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_FieldsFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pika", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger(service).setLevel(level)
