"""`consume_events`: apply lifecycle events from the broker until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from usp.message_auth import message_key
from webapp.files.consumer import run_consumer


class Command(BaseCommand):
    help = (
        "Consume the webapp's lifecycle events (USP_BROKER_URL, USP_BROKER_NAMESPACE), "
        "verified against USP_SERVICE_TOKEN."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        run_consumer(
            broker_url=settings.USP.broker_url,
            namespace=settings.USP.broker_namespace,
            message_key=message_key(settings.USP.service_token),
            stop=stop,
        )
