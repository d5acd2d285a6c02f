"""`expire_uploads`: end unfinished uploads storage will never report now (the event
consumer also does it every ten minutes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from webapp.files.intents import upload_intents_expire


class Command(BaseCommand):
    help = (
        "Mark uploads an hour past their session's expiry as expired, delete intents that "
        "never got a session, and release their quota."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        ended = upload_intents_expire()
        self.stdout.write(f"{ended} stale uploads ended")
