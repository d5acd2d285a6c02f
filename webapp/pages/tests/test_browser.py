"""The upload page in a real browser: many files at once, live progress, live processing.

Drives Debian's chromium with Playwright against pytest-django's live server; the
storage service is the fake one, and processing is simulated by applying the
processor's events from the test.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from usp import events
from usp.v1 import common_pb2, processor_service_pb2
from webapp.accounts.models import User
from webapp.files.events import event_apply
from webapp.files.models import File, FileState, Job
from webapp.files.tests.fake_storage import FakeStorageServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 15_000


def png_bytes(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def base_url(live_server: Any) -> str:
    """The live server by its loopback address rather than by name."""
    return str(live_server.url).replace("localhost", "127.0.0.1")


@pytest.fixture
def browser_page(base_url: str, user: User, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A chromium page signed in as `user` (through the session cookie)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the tests' ORM calls are
    # plain blocking ones made between browser calls, which Django must be told is fine.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}]
        )
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        try:
            yield page
        finally:
            browser.close()


def apply_job_events(file: File, storage: FakeStorageServer, thumbnail: bytes) -> None:
    """What the processor would report: every job started, then succeeded; the thumbnail
    step stores its derivative first, like the real one does."""
    for job in Job.objects.filter(file=file):
        started = processor_service_pb2.JobStarted(attempt=1, step=job.step)
        _apply(events.JOB_STARTED, job, started)
        succeeded = processor_service_pb2.JobSucceeded(attempt=1, step=job.step)
        if job.step == "image.thumbnail":
            succeeded.derivatives.append(_store_derivative(storage, file, thumbnail))
        else:
            succeeded.metadata.update({"width": 320, "height": 200})
        _apply(events.JOB_SUCCEEDED, job, succeeded)


def _apply(event_type: str, job: Job, payload: Any) -> None:
    envelope = events.make_envelope(
        event_type, file_id=str(job.file_id), job_id=str(job.id), payload=payload, attempt=1
    )
    event_apply(envelope=envelope)


def _store_derivative(storage: FakeStorageServer, file: File, data: bytes) -> common_pb2.Derivative:
    sha256 = hashlib.sha256(data).hexdigest()
    with storage.storage.lock:
        storage.storage.blobs[sha256] = data
        storage.storage.files.setdefault(str(file.pk), set()).add(sha256)
    info = common_pb2.ObjectInfo(
        checksum=common_pb2.Checksum(sha256=sha256), size=len(data), content_type="image/png"
    )
    return common_pb2.Derivative(kind="thumbnail-256", object=info)


def row_state(page: Any, name: str) -> Any:
    return page.locator(".upload-row", has_text=name)


def test_files_dropped_on_the_page_upload_with_progress_and_show_processing_live(
    browser_page: Any,
    base_url: str,
    user: User,
    fake_storage: FakeStorageServer,
    tmp_path: Path,
) -> None:
    image = tmp_path / "sunset.png"
    image.write_bytes(png_bytes(320, 200, (230, 120, 40)))
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n" * 1000)
    page = browser_page

    page.goto(f"{base_url}/upload/")
    page.set_input_files("#file-input", [str(image), str(notes)])

    page.wait_for_selector(".upload-row[data-file-id][data-state=processing] >> text=sunset.png")
    page.wait_for_selector(".upload-row[data-file-id][data-state=processing] >> text=notes.txt")
    png_file = File.objects.get(owner=user, name="sunset.png")
    assert png_file.state == FileState.PROCESSING
    apply_job_events(png_file, fake_storage, png_bytes(256, 160, (40, 90, 200)))
    row = page.locator(".upload-row", has_text="sunset.png")
    row.locator("img.thumbnail").wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=row.locator("img.thumbnail").element_handle(),
    )
    _screenshot(page, "upload_page")

    assert row.get_attribute("data-state") == "ready"
    assert row.get_attribute("data-file-id") == str(png_file.pk)
    assert row.locator(".jobs .job").evaluate_all(
        "items => items.map(i => i.dataset.step + ':' + i.dataset.state)"
    ) == ["metadata:succeeded", "checksum:succeeded", "image.thumbnail:succeeded"]
    assert row.locator("progress").evaluate("p => p.value === p.max")
    assert "Uploaded" in row.locator(".detail").inner_text()
    other = page.locator(".upload-row", has_text="notes.txt")
    assert other.get_attribute("data-state") == "processing"
    assert row.locator("a.name").get_attribute("href") == f"/files/{png_file.pk}/"


def test_the_list_and_file_pages_show_the_thumbnail(
    browser_page: Any, base_url: str, user: User, fake_storage: FakeStorageServer
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.files.services import file_upload

    upload = SimpleUploadedFile("sunset.png", png_bytes(320, 200, (230, 120, 40)))
    file = file_upload(owner=user, uploaded_file=upload)
    apply_job_events(file, fake_storage, png_bytes(256, 160, (40, 90, 200)))
    page = browser_page

    page.goto(f"{base_url}/files/")
    listed = page.locator(f"tr[data-file-id='{file.pk}'] img.thumb-small")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=listed.element_handle()
    )
    _screenshot(page, "file_list_page")
    page.click("text=sunset.png")
    page.wait_for_url(f"{base_url}/files/{file.pk}/")
    preview = page.locator(".preview img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    _screenshot(page, "file_detail_page")

    assert page.locator("h1.file-name").inner_text() == "sunset.png"
    assert page.locator(".page-head .pill").inner_text() == "ready"
    assert {"checksum", "metadata"} <= set(page.locator(".metadata-table th").all_inner_texts())
    assert '"width": 320' in page.locator(".metadata-table td").first.inner_text()


def test_an_upload_refused_by_the_server_shows_its_message(
    browser_page: Any, base_url: str, fake_storage: FakeStorageServer, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    page = browser_page

    page.goto(f"{base_url}/upload/")
    page.click("summary")
    page.fill("input[name=pipeline]", "Not A Step")
    page.set_input_files("#file-input", str(notes))

    row = page.locator(".upload-row[data-state=failed]", has_text="notes.txt")
    row.wait_for()
    assert row.locator(".error-text").inner_text() == "Invalid step name: 'Not A Step'."


def _screenshot(page: Any, name: str) -> None:
    """Saved where USP_SCREENSHOT_DIR says, to look at the pages while changing them."""
    directory = os.environ.get("USP_SCREENSHOT_DIR")
    if directory:
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
