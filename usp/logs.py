"""Logging set-up shared by the services: one line per record, key=value fields, with
credentials that a library might put in a line (signed URLs' signatures, bearer and API
tokens in authorization values) redacted."""

from __future__ import annotations

import logging
import os
import re
from typing import TextIO

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s%(fields)s"
REDACTED = "[redacted]"
# The part kept, then the secret: a signed location's `sig` query parameter, a bearer
# token, an `Authorization: Token <key>` value.
_SECRETS = re.compile(
    r"(?P<keep>[?&]sig=|\bBearer\s+|\bauthorization['\"]?\s*[:=,]\s*['\"]?Token\s+)"
    r"(?P<secret>[^\s&'\",;)]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every credential the patterns above recognise replaced."""
    return _SECRETS.sub(lambda match: match["keep"] + REDACTED, text)


class RedactFilter(logging.Filter):
    """Redacts a record's message and string arguments where it is made, for loggers
    whose records may reach handlers other than ours (an access log, say); arguments
    keep their positions, so the logger's own formatters still apply."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def redact_logger(name: str) -> None:
    """Add a RedactFilter to the logger `name`, once."""
    logger = logging.getLogger(name)
    if not any(isinstance(existing, RedactFilter) for existing in logger.filters):
        logger.addFilter(RedactFilter())


class _FieldsFilter(logging.Filter):
    """Renders `extra={"fields": {...}}` as trailing key=value pairs."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = "".join(f" {key}={value}" for key, value in fields.items())
        else:
            record.fields = ""
        return True


class _RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line, exception text included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def make_handler(stream: TextIO | None = None) -> logging.Handler:
    """The services' handler: one redacted line per record on `stream` (stderr)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_RedactingFormatter(_FORMAT))
    handler.addFilter(_FieldsFilter())
    return handler


def configure(service: str) -> None:
    """Configure the root logger once for a service process (level from USP_LOG_LEVEL)."""
    level = os.environ.get("USP_LOG_LEVEL", "INFO").upper()
    root = logging.getLogger()
    root.handlers[:] = [make_handler()]
    root.setLevel(level)
    for noisy in ("pika", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger(service).setLevel(level)
