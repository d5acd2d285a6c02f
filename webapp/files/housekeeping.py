"""Periodic upkeep of the catalog, run beside the event consumer so every deployment
has it without a cron entry: ending uploads that storage will never report."""

from __future__ import annotations

import logging
import threading

from django.db import connection

from webapp.files.intents import upload_intents_expire

logger = logging.getLogger(__name__)

# Stale uploads are an hour past their expiry before they are ended: minutes of delay
# are nothing against that, and the query is cheap.
EXPIRY_INTERVAL = 600.0


def run_upload_expiry(*, stop: threading.Event, interval: float = EXPIRY_INTERVAL) -> None:
    """End stale uploads every `interval` seconds until `stop` is set; an error is
    logged and the next round tries again. Each round opens its own database connection
    and closes it, so none is held between rounds."""
    while not stop.wait(interval):
        try:
            upload_intents_expire()
        except Exception:
            logger.exception("ending stale uploads failed; trying again next round")
        finally:
            connection.close()


def start_upload_expiry(
    *, stop: threading.Event, interval: float = EXPIRY_INTERVAL
) -> threading.Thread:
    thread = threading.Thread(
        target=run_upload_expiry,
        kwargs={"stop": stop, "interval": interval},
        name="upload-expiry",
        daemon=True,
    )
    thread.start()
    return thread
