"""The periodic sweeper: expires abandoned upload sessions and removes their bytes."""

from __future__ import annotations

import logging
import threading

from storage_service.uploads import Uploads

logger = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, uploads: Uploads, *, interval: float) -> None:
        self._uploads = uploads
        self._interval = interval

    def run(self, stop: threading.Event) -> None:
        """Sweep now, then every `interval` seconds, until `stop` is set."""
        logger.info("upload sweeper started", extra={"fields": {"interval": self._interval}})
        while True:
            self.sweep_once()
            if stop.wait(self._interval):
                break
        logger.info("upload sweeper stopped")

    def sweep_once(self) -> int:
        try:
            expired = self._uploads.sweep_once()
        except Exception:
            logger.exception("upload sweep failed")
            return 0
        if expired:
            logger.info("upload sessions expired", extra={"fields": {"count": expired}})
        return expired
