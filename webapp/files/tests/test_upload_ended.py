from __future__ import annotations

import uuid

import pytest

from usp import events
from usp.v1 import common_pb2, storage_service_pb2
from webapp.accounts.models import Usage, User
from webapp.files.events import UnreadableEvent, event_apply
from webapp.files.models import File, FileState, UploadIntent
from webapp.files.services import file_reserve
from webapp.files.tests.factories import file_make

pytestmark = pytest.mark.django_db

SHA = "ab" * 32


def ended(file_id: str, reason: str, error: common_pb2.ErrorInfo | None = None) -> None:
    payload = storage_service_pb2.UploadEnded(reason=reason, error=error)
    event_apply(
        envelope=events.make_envelope(events.UPLOAD_ENDED, file_id=file_id, payload=payload)
    )


def stored(file_id: str, size: int = 100) -> None:
    payload = storage_service_pb2.FileStored(
        object=common_pb2.ObjectInfo(
            checksum=common_pb2.Checksum(sha256=SHA), size=size, content_type="text/plain"
        ),
        jobs=[common_pb2.JobRef(job_id=str(uuid.uuid4()), step="checksum")],
    )
    event_apply(envelope=events.make_envelope(events.FILE_STORED, file_id=file_id, payload=payload))


def usage(user: User) -> tuple[int, int]:
    row = Usage.objects.get(user=user)
    return (row.bytes_used, row.files_used)


@pytest.fixture
def reserved(user: User) -> File:
    """An upload announced with 100 bytes reserved, next to a stored file of 6 bytes."""
    file_reserve(owner=user, name="kept.txt", size=6)
    return file_reserve(owner=user, name="upload.bin", size=100)


def test_aborted_upload_deletes_the_file_and_releases_its_reservation(
    user: User, reserved: File
) -> None:
    UploadIntent.objects.create(file=reserved, owner=user, fingerprint="f")
    assert usage(user) == (106, 2)

    ended(str(reserved.id), "aborted")

    assert not File.objects.filter(pk=reserved.pk).exists()
    assert UploadIntent.objects.count() == 0
    assert usage(user) == (6, 1)


def test_expired_upload_is_marked_expired_and_releases_its_reservation(
    user: User, reserved: File
) -> None:
    ended(str(reserved.id), "expired")

    reserved.refresh_from_db()
    assert (reserved.state, reserved.error, reserved.charged_bytes) == (
        FileState.EXPIRED,
        "The upload expired before all of its bytes arrived.",
        None,
    )
    assert usage(user) == (6, 1)


def test_rejected_upload_fails_with_the_reason_and_releases_its_reservation(
    user: User, reserved: File
) -> None:
    error = common_pb2.ErrorInfo(code="sha256_mismatch", message="SHA-256 differs")

    ended(str(reserved.id), "rejected", error)

    reserved.refresh_from_db()
    assert (reserved.state, reserved.error, reserved.charged_bytes) == (
        FileState.FAILED,
        "SHA-256 differs (sha256_mismatch)",
        None,
    )
    assert usage(user) == (6, 1)


def test_rejected_upload_without_a_reason_still_says_it_was_rejected(
    user: User, reserved: File
) -> None:
    ended(str(reserved.id), "rejected")

    reserved.refresh_from_db()
    assert (reserved.state, reserved.error) == (FileState.FAILED, "Upload rejected.")


def test_a_repeated_upload_end_releases_only_once(user: User, reserved: File) -> None:
    ended(str(reserved.id), "expired")
    ended(str(reserved.id), "expired")
    ended(str(reserved.id), "rejected")

    reserved.refresh_from_db()
    assert reserved.state == FileState.EXPIRED
    assert usage(user) == (6, 1)


def test_an_upload_end_after_the_bytes_were_stored_changes_nothing(
    user: User, reserved: File
) -> None:
    stored(str(reserved.id))

    ended(str(reserved.id), "aborted")

    reserved.refresh_from_db()
    assert (reserved.state, reserved.sha256, reserved.charged_bytes) == (
        FileState.PROCESSING,
        SHA,
        100,
    )
    assert usage(user) == (106, 2)


def test_stored_keeps_the_reservation_as_usage(user: User, reserved: File) -> None:
    stored(str(reserved.id))
    stored(str(reserved.id))

    assert usage(user) == (106, 2)


def test_bytes_stored_after_an_expiry_count_again(user: User, reserved: File) -> None:
    ended(str(reserved.id), "expired")

    stored(str(reserved.id))

    reserved.refresh_from_db()
    assert (reserved.state, reserved.error, reserved.charged_bytes) == (
        FileState.PROCESSING,
        "",
        100,
    )
    assert usage(user) == (106, 2)


def test_an_upload_end_for_an_unknown_file_is_ignored(user: User, reserved: File) -> None:
    ended(str(uuid.uuid4()), "aborted")

    assert usage(user) == (106, 2)


def test_an_upload_end_with_an_unknown_reason_is_unreadable(user: User, reserved: File) -> None:
    with pytest.raises(UnreadableEvent, match="unknown reason 'paused'"):
        ended(str(reserved.id), "paused")

    assert usage(user) == (106, 2)


def test_files_stored_before_quotas_count_once_they_are_stored_again(user: User) -> None:
    file = file_make(owner=user, state=FileState.AWAITING_UPLOAD)

    stored(str(file.id), size=42)

    assert usage(user) == (42, 1)
