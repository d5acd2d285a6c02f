from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.waiting import wait_for
from usp.storage_client import StoredObject
from webapp.accounts.models import Usage, User
from webapp.files.housekeeping import start_upload_expiry
from webapp.files.intents import upload_intents_expire
from webapp.files.models import File, FileState, UploadIntent
from webapp.files.services import file_mark_stored, file_reserve

pytestmark = pytest.mark.django_db


def announced(user: User, name: str, *, session: bool, age: timedelta) -> File:
    file = file_reserve(owner=user, name=name, size=10)
    created = timezone.now() - age
    UploadIntent.objects.create(
        file=file,
        owner=user,
        fingerprint=name,
        upload_url="http://127.0.0.1:8001/uploads/x" if session else "",
        expires_at=created + timedelta(days=1) if session else None,
        created_at=created,
    )
    return file


def counts(user: User) -> tuple[int, int]:
    usage = Usage.objects.get(user=user)
    return (usage.bytes_used, usage.files_used)


def test_uploads_long_past_expiry_or_never_opened_are_ended_and_released(user: User) -> None:
    expired = announced(user, "expired", session=True, age=timedelta(days=1, hours=2))
    fresh = announced(user, "fresh", session=True, age=timedelta(hours=23))
    orphan = announced(user, "orphan", session=False, age=timedelta(hours=2))
    starting = announced(user, "starting", session=False, age=timedelta(minutes=1))

    assert upload_intents_expire() == 2

    states = dict(File.objects.values_list("name", "state"))
    assert states == {
        "expired": FileState.EXPIRED,
        "fresh": FileState.AWAITING_UPLOAD,
        "starting": FileState.AWAITING_UPLOAD,
    }
    assert not File.objects.filter(pk=orphan.pk).exists()
    assert counts(user) == (20, 2)
    assert {expired.pk, fresh.pk, starting.pk} == set(File.objects.values_list("pk", flat=True))


def test_stored_files_are_never_expired(user: User) -> None:
    file = announced(user, "done", session=True, age=timedelta(days=3))
    file_mark_stored(file_id=file.pk, stored=StoredObject("ab" * 32, 10, "text/plain"), jobs=[])

    assert upload_intents_expire() == 0
    assert counts(user) == (10, 1)


def test_expire_uploads_command_reports_how_many_ended(user: User) -> None:
    announced(user, "orphan", session=False, age=timedelta(hours=2))
    out = StringIO()

    call_command("expire_uploads", stdout=out)

    assert out.getvalue() == "1 stale uploads ended\n"


@pytest.mark.django_db(transaction=True)
def test_stale_uploads_are_ended_periodically_beside_the_consumer(user: User) -> None:
    stale = announced(user, "stale", session=True, age=timedelta(days=1, hours=2))
    stop = threading.Event()
    thread = start_upload_expiry(stop=stop, interval=0.05)
    try:
        wait_for(
            lambda: File.objects.get(pk=stale.pk).state == FileState.EXPIRED,
            what="the stale upload to be ended by the periodic expiry",
        )
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert counts(user) == (0, 0)
