"""The upload page in a real browser against the real storage service: Uppy sends each
file with tus to the signed location its intent returned, then the page follows it.

Chromium is driven by Playwright; the webapp is pytest-django's live server; storage runs
in this process with its gRPC and HTTP (tus) ports; processing is simulated.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from webapp.accounts.models import User
from webapp.files.models import File, FileState
from webapp.pages.tests.browser import (
    RunningStorage,
    SignedInBrowser,
    png_bytes,
    process_file,
    screenshot,
    sha256_of,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIB = 1024 * 1024
COMMITTED = ":is([data-state=stored],[data-state=processing],[data-state=ready])"
FILES_INPUT = ".uppy-Dashboard-input >> nth=0"

DROP_FILES = """
async (files) => {
  const transfer = new DataTransfer()
  for (const file of files) {
    const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0))
    transfer.items.add(new File([bytes], file.name, { type: file.type }))
  }
  const zone = document.querySelector('.uppy-Dashboard-inner')
  for (const type of ['dragenter', 'dragover', 'drop']) {
    const init = { dataTransfer: transfer, bubbles: true, cancelable: true }
    zone.dispatchEvent(new DragEvent(type, init))
  }
}
"""


def row(page: Any, name: str) -> Any:
    return page.locator(".upload-row", has_text=name)


def drop(page: Any, files: dict[str, bytes], content_type: str) -> None:
    """Drop files on the dashboard the way a drag from the desktop does."""
    payload = [
        {"name": name, "type": content_type, "data": base64.b64encode(data).decode()}
        for name, data in files.items()
    ]
    page.evaluate(DROP_FILES, payload)


def throttle_uploads(page: Any, bytes_per_second: int) -> None:
    """Slow the page's uploads down (Chromium's network emulation), to act mid-upload."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    conditions = {"offline": False, "latency": 0, "downloadThroughput": -1}
    cdp.send(
        "Network.emulateNetworkConditions", {**conditions, "uploadThroughput": bytes_per_second}
    )


def patch_offsets(page: Any) -> list[int]:
    """The Upload-Offset of every tus PATCH the page sends from now on."""
    offsets: list[int] = []

    def record(request: Any) -> None:
        if request.method == "PATCH":
            offsets.append(int(request.headers["upload-offset"]))

    page.on("request", record)
    return offsets


def wait_for_bytes(page: Any, name: str, at_least: int) -> None:
    page.wait_for_function(
        "([name, least]) => [...document.querySelectorAll('.upload-row')].some("
        "(r) => r.textContent.includes(name) && Number(r.dataset.bytesUploaded || 0) >= least)",
        arg=[name, at_least],
    )


def test_images_dropped_on_the_dashboard_go_to_storage_and_show_state_and_thumbnail(
    browser_page: Any, base_url: str, user: User, storage_system: RunningStorage
) -> None:
    sunset = png_bytes(320, 200, (230, 120, 40))
    sea = png_bytes(300, 180, (20, 90, 200))
    page = browser_page

    page.goto(f"{base_url}/upload/")
    drop(page, {"sunset.png": sunset, "sea.png": sea}, "image/png")

    for name in ("sunset.png", "sea.png"):
        page.locator(f".upload-row[data-file-id]{COMMITTED}", has_text=name).wait_for()
    files = {file.name: file for file in File.objects.filter(owner=user)}
    assert sorted(files) == ["sea.png", "sunset.png"]
    assert (files["sunset.png"].sha256, files["sunset.png"].size) == (
        sha256_of(sunset),
        len(sunset),
    )
    assert (files["sea.png"].sha256, files["sea.png"].size) == (sha256_of(sea), len(sea))
    assert files["sunset.png"].state == FileState.PROCESSING

    process_file(storage_system, files["sunset.png"], png_bytes(256, 160, (250, 200, 60)))
    sunset_row = row(page, "sunset.png")
    sunset_row.locator("img.thumbnail").wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 256",
        arg=sunset_row.locator("img.thumbnail").element_handle(),
    )
    page.locator(".upload-row[data-state=ready]", has_text="sunset.png").wait_for()
    screenshot(page, "uppy_page")

    assert sunset_row.get_attribute("data-file-id") == str(files["sunset.png"].pk)
    assert sunset_row.locator(".jobs .job").evaluate_all(
        "items => items.map(i => i.dataset.step + ':' + i.dataset.state)"
    ) == ["image.metadata:succeeded", "image.thumbnail:succeeded", "checksum:succeeded"]
    assert sunset_row.locator("progress").evaluate("p => p.value === p.max")
    assert sunset_row.locator("a.name").get_attribute("href") == f"/files/{files['sunset.png'].pk}/"
    assert row(page, "sea.png").get_attribute("data-state") == "processing"


def test_a_file_over_the_size_limit_is_refused_with_the_servers_message_and_nothing_is_created(
    browser_page: Any,
    base_url: str,
    user: User,
    settings: Any,
    storage_system: RunningStorage,
    tmp_path: Path,
) -> None:
    settings.USP = dataclasses.replace(settings.USP, max_upload_size=1000)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 5000)
    small = tmp_path / "small.txt"
    small.write_bytes(b"fits\n")
    page = browser_page
    offsets = patch_offsets(page)

    page.goto(f"{base_url}/upload/")
    page.set_input_files(FILES_INPUT, [str(big), str(small)])

    refused = page.locator(".upload-row[data-state=refused]", has_text="big.bin")
    refused.wait_for()
    page.locator(f".upload-row{COMMITTED}", has_text="small.txt").wait_for()
    screenshot(page, "uppy_refused")
    message = refused.locator(".error-text").inner_text()
    assert "too large" in message.lower() or "larger" in message.lower(), message
    assert refused.get_attribute("data-file-id") is None
    assert list(File.objects.filter(owner=user).values_list("name", flat=True)) == ["small.txt"]
    assert offsets == [0]  # one PATCH, for small.txt


def test_a_type_storage_sniffs_outside_the_policy_is_rejected_and_shown(
    browser_page: Any,
    base_url: str,
    user: User,
    settings: Any,
    storage_system: RunningStorage,
    tmp_path: Path,
) -> None:
    settings.USP = dataclasses.replace(settings.USP, allowed_types=("image/*",))
    fake = tmp_path / "photo.png"
    fake.write_text("not a picture at all\n" * 50)
    page = browser_page

    page.goto(f"{base_url}/upload/")
    page.set_input_files(FILES_INPUT, str(fake))

    failed = page.locator(".upload-row[data-file-id][data-state=failed]", has_text="photo.png")
    failed.wait_for()
    page.wait_for_function(
        "el => el.textContent.trim() !== ''", arg=failed.locator(".error-text").element_handle()
    )
    screenshot(page, "uppy_rejected")
    file = File.objects.get(owner=user)
    assert file.state == FileState.FAILED
    assert failed.get_attribute("data-file-id") == str(file.pk)
    assert "text/plain" in failed.locator(".error-text").inner_text()


def test_pausing_an_upload_and_resuming_it_continues_from_the_servers_offset(
    browser_page: Any,
    base_url: str,
    user: User,
    settings: Any,
    storage_system: RunningStorage,
    tmp_path: Path,
) -> None:
    settings.PAGES_UPLOAD_CHUNK_SIZE = MIB
    data = os.urandom(6 * MIB)
    video = tmp_path / "clip.bin"
    video.write_bytes(data)
    page = browser_page
    page.goto(f"{base_url}/upload/")
    throttle_uploads(page, 3 * MIB)
    offsets = patch_offsets(page)

    page.set_input_files(FILES_INPUT, str(video))
    wait_for_bytes(page, "clip.bin", MIB)
    progress = row(page, "clip.bin").locator(".detail").inner_text()
    row(page, "clip.bin").locator("button.row-action").click()
    page.locator(".upload-row[data-state=paused]", has_text="clip.bin").wait_for()
    assert File.objects.get(owner=user).state == FileState.AWAITING_UPLOAD
    paused_at = len(offsets)
    row(page, "clip.bin").locator("button.row-action", has_text="Resume").click()

    page.locator(f".upload-row{COMMITTED}", has_text="clip.bin").wait_for()
    file = File.objects.get(owner=user)
    assert (file.sha256, file.size) == (sha256_of(data), len(data))
    assert offsets[paused_at] > 0, offsets
    assert offsets == sorted(offsets)
    assert re.fullmatch(r"\d+% · [\d.]+ MiB of 6\.0 MiB · [\d.]+ [KM]iB/s · .* left", progress)


def test_reloading_mid_upload_and_adding_the_same_file_again_resumes_where_it_stopped(
    signed_in_browser: SignedInBrowser,
    base_url: str,
    user: User,
    settings: Any,
    storage_system: RunningStorage,
    tmp_path: Path,
) -> None:
    settings.PAGES_UPLOAD_CHUNK_SIZE = MIB
    data = os.urandom(8 * MIB)
    archive = tmp_path / "backup.tar"
    archive.write_bytes(data)
    page = signed_in_browser.new_page()
    page.goto(f"{base_url}/upload/")
    throttle_uploads(page, 3 * MIB)
    page.set_input_files(FILES_INPUT, str(archive))
    wait_for_bytes(page, "backup.tar", 2 * MIB)

    page.reload()
    unfinished = page.locator("#unfinished-uploads li", has_text="backup.tar")
    unfinished.wait_for()
    file = File.objects.get(owner=user)
    assert unfinished.get_attribute("data-file-id") == str(file.pk)
    offsets = patch_offsets(page)
    page.set_input_files(FILES_INPUT, str(archive))

    page.locator(f".upload-row{COMMITTED}", has_text="backup.tar").wait_for()
    file.refresh_from_db()
    assert (file.sha256, file.size) == (sha256_of(data), len(data))
    assert File.objects.filter(owner=user).count() == 1
    assert offsets and offsets[0] >= MIB, offsets
    assert page.locator("#unfinished-uploads li").count() == 0
    assert "resumed at" in row(page, "backup.tar").locator(".detail").inner_text()


def test_adding_a_file_again_after_its_upload_finished_uploads_it_as_a_new_file(
    signed_in_browser: SignedInBrowser,
    base_url: str,
    user: User,
    storage_system: RunningStorage,
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the same bytes twice\n")
    first_page = signed_in_browser.new_page()
    first_page.goto(f"{base_url}/upload/")
    first_page.set_input_files(FILES_INPUT, str(notes))
    first_page.locator(f".upload-row{COMMITTED}", has_text="notes.txt").wait_for()
    first = File.objects.get(owner=user)

    page = signed_in_browser.new_page()
    page.goto(f"{base_url}/upload/")
    page.set_input_files(FILES_INPUT, str(notes))

    again = page.locator(f".upload-row[data-file-id]{COMMITTED}", has_text="notes.txt")
    again.wait_for()
    second = File.objects.exclude(pk=first.pk).get(owner=user)
    assert again.get_attribute("data-file-id") == str(second.pk)
    assert second.sha256 == first.sha256 == sha256_of(b"the same bytes twice\n")


def test_an_unfinished_upload_listed_on_the_page_can_be_discarded(
    browser_page: Any, base_url: str, user: User, storage_system: RunningStorage
) -> None:
    client = Client()
    client.force_login(user)
    intent = client.post(
        "/api/v1/uploads/",
        data=json.dumps({"name": "abandoned.iso", "size": 4096}),
        content_type="application/json",
    )
    assert intent.status_code == 201, intent.content
    file_id = intent.json()["file_id"]
    page = browser_page

    page.goto(f"{base_url}/upload/")
    item = page.locator(f"#unfinished-uploads li[data-file-id='{file_id}']")
    assert "abandoned.iso" in item.inner_text()
    item.locator("button[data-discard]").click()

    item.wait_for(state="detached")
    assert page.locator("#unfinished-uploads").is_hidden()
    assert not File.objects.filter(pk=file_id).exists()


def test_without_javascript_the_plain_form_uploads_through_the_webapp(
    signed_in_browser: SignedInBrowser,
    base_url: str,
    user: User,
    storage_system: RunningStorage,
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n")
    page = signed_in_browser.new_page(javascript=False)

    page.goto(f"{base_url}/upload/")
    assert page.locator("#uppy-dashboard").is_hidden()
    page.set_input_files("#file-input", str(notes))
    page.click("button.submit-button")

    file = File.objects.get(owner=user)
    page.wait_for_url(f"{base_url}/files/{file.pk}/")
    assert page.locator("h1.file-name").inner_text() == "notes.txt"
    assert file.sha256 == sha256_of(b"shopping list\n")


def test_the_list_and_file_pages_show_the_thumbnail(
    browser_page: Any, base_url: str, user: User, storage_system: RunningStorage
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.files.services import file_upload

    upload = SimpleUploadedFile("sunset.png", png_bytes(320, 200, (230, 120, 40)))
    file = file_upload(owner=user, uploaded_file=upload)
    process_file(storage_system, file, png_bytes(256, 160, (40, 90, 200)))
    page = browser_page

    page.goto(f"{base_url}/files/")
    listed = page.locator(f"tr[data-file-id='{file.pk}'] img.thumb-small")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=listed.element_handle()
    )
    screenshot(page, "file_list_page")
    page.click("text=sunset.png")
    page.wait_for_url(f"{base_url}/files/{file.pk}/")
    preview = page.locator(".preview img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    screenshot(page, "file_detail_page")

    assert page.locator("h1.file-name").inner_text() == "sunset.png"
    assert page.locator(".page-head .pill").inner_text() == "ready"
    headings = set(page.locator(".metadata-table th").all_inner_texts())
    assert {"checksum", "image.metadata"} <= headings
