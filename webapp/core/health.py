"""Readiness checks: each returns "ok" or a short reason, never internals."""

from __future__ import annotations

import logging

import kombu
from django.conf import settings
from django.db import connection

from usp.events import kombu_url

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 2.0


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return _failure("database", exc)
    return "ok"


def check_storage() -> str:
    from webapp.files.storage import get_storage_client

    try:
        serving = get_storage_client().is_serving()
    except Exception as exc:
        return _failure("storage", exc)
    return "ok" if serving else "not serving"


def check_broker() -> str:
    url = kombu_url(settings.USP.broker_url)
    if url.startswith("memory://"):
        return "ok"
    try:
        with kombu.Connection(url, connect_timeout=BROKER_TIMEOUT) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
    except Exception as exc:
        return _failure("broker", exc)
    return "ok"


def readiness() -> dict[str, str]:
    return {
        "database": check_database(),
        "storage": check_storage(),
        "broker": check_broker(),
    }


def _failure(check: str, exc: Exception) -> str:
    logger.warning("readiness check failed", extra={"fields": {"check": check, "error": exc}})
    return f"unavailable ({exc.__class__.__name__})"
