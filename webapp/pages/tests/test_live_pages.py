"""The pages follow a file live: the file page and the upload page change as events are
applied, without a reload, through server-sent events or, when a stream is refused, by
polling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from usp import events
from usp.v1 import processor_service_pb2
from webapp.accounts.models import User
from webapp.files.events import event_apply
from webapp.files.models import File, FileState, Job, JobState
from webapp.files.services import file_upload
from webapp.files.tests.factories import file_make, job_make
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.pages.tests.browser import RunningStorage, png_bytes, process_file, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The page's own state, which a reload would lose.
MARK_PAGE = "() => { window.notReloaded = true }"
STILL_THE_SAME_PAGE = "() => window.notReloaded === true"


def event_requests(page: Any) -> list[str]:
    """Every request the page makes to a file's events stream, from now on."""
    urls: list[str] = []
    page.on(
        "request", lambda request: urls.append(request.url) if "/events" in request.url else None
    )
    return urls


def test_the_file_page_turns_ready_with_its_thumbnail_without_a_reload(
    browser_page: Any, base_url: str, user: User, storage_system: RunningStorage
) -> None:
    upload = SimpleUploadedFile("sunset.png", png_bytes(320, 200, (230, 120, 40)))
    file = file_upload(owner=user, uploaded_file=upload)
    page = browser_page
    streams = event_requests(page)
    page.goto(f"{base_url}/files/{file.pk}/")
    page.evaluate(MARK_PAGE)
    assert page.locator(".page-head .pill").inner_text() == "processing"
    page.wait_for_function(
        "() => document.getElementById('file-detail').classList.contains('live')"
    )

    process_file(storage_system, file, png_bytes(256, 160, (40, 90, 200)))

    page.locator(".page-head .pill[data-state=ready]").wait_for()
    preview = page.locator(".preview img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 256", arg=preview.element_handle()
    )
    screenshot(page, "file_detail_live")
    assert page.evaluate(STILL_THE_SAME_PAGE)
    assert page.locator(".jobs-table tr[data-state]").evaluate_all(
        "rows => rows.map(r => r.dataset.step + ':' + r.dataset.state)"
    ) == ["image.metadata:succeeded", "image.thumbnail:succeeded", "checksum:succeeded"]
    assert page.locator(".live-note").count() == 0
    assert "image.metadata" in page.locator(".metadata-table").inner_text()
    assert streams == [f"{base_url}/api/v1/files/{file.pk}/events"]


def test_the_file_page_polls_when_the_server_refuses_a_stream(
    browser_page: Any,
    base_url: str,
    user: User,
    usp_settings: Callable[..., None],
    storage_system: RunningStorage,
) -> None:
    usp_settings(live_max_streams=0)
    file = file_make(owner=user, name="notes.txt", state=FileState.PROCESSING)
    job = job_make(file=file, step="checksum")
    page = browser_page
    page.goto(f"{base_url}/files/{file.pk}/")
    page.evaluate(MARK_PAGE)

    job.state = JobState.FAILED
    job.error = "The stored bytes differ from their SHA-256 (checksum_mismatch)"
    job.save()
    File.objects.filter(pk=file.pk).update(state=FileState.FAILED)

    page.locator(".page-head .pill[data-state=failed]").wait_for()
    assert page.evaluate(STILL_THE_SAME_PAGE)
    assert "checksum_mismatch" in page.locator(".jobs-table").inner_text()


def test_the_upload_page_follows_its_uploads_over_server_sent_events(
    browser_page: Any, base_url: str, user: User, storage_system: RunningStorage, tmp_path: Any
) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("shopping list\n")
    page = browser_page
    streams = event_requests(page)
    page.goto(f"{base_url}/upload/")
    page.set_input_files(".uppy-Dashboard-input >> nth=0", str(source))
    page.locator(".upload-row[data-file-id][data-state=processing]").wait_for()
    file = File.objects.get(owner=user)

    process_file(storage_system, file, b"")

    page.locator(".upload-row[data-state=ready]", has_text="notes.txt").wait_for()
    assert streams == [f"{base_url}/api/v1/files/{file.pk}/events"]


def test_retrying_a_failed_job_from_the_file_page_follows_it_to_ready(
    browser_page: Any, base_url: str, user: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=user, name="p.png", state=FileState.FAILED)
    job = job_make(file=file, step="checksum", state=JobState.FAILED, error="boom (io)")
    page = browser_page
    page.goto(f"{base_url}/files/{file.pk}/")

    page.click("text=Retry")
    page.locator(".page-head .pill[data-state=processing]").wait_for()
    page.evaluate(MARK_PAGE)
    page.locator("#file-detail.live").wait_for()
    job.refresh_from_db()
    for event_type in (events.JOB_STARTED, events.JOB_SUCCEEDED):
        apply_job_event(job, event_type)

    page.locator(".page-head .pill[data-state=ready]").wait_for()
    assert page.evaluate(STILL_THE_SAME_PAGE)
    assert [r.jobs[0].job_id for r in fake_storage.storage.dispatches] == [str(job.pk)]
    assert page.locator(".message.success").inner_text() == "checksum will run again."


def apply_job_event(job: Job, event_type: str) -> None:
    payload: Any = (
        processor_service_pb2.JobStarted(attempt=1, step=job.step)
        if event_type == events.JOB_STARTED
        else processor_service_pb2.JobSucceeded(attempt=1, step=job.step)
    )
    envelope = events.make_envelope(
        event_type, file_id=str(job.file_id), job_id=str(job.id), payload=payload, attempt=1
    )
    event_apply(envelope=envelope)
