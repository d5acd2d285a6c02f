"""Stored HTML and SVG with scripts, opened in a real browser: whichever link leads to
them (the page's buttons, the API's addresses, the storage upload locations), the browser
downloads them and no script of theirs runs, on the site's origin or any other.

With a user-content origin, the bytes come from that origin (here: the live server by
another host name, `localhost` rather than `127.0.0.1`), which never gets the site's
session cookie; without one, from the site itself, as an attachment with a sandbox.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from webapp.accounts.models import User
from webapp.files.models import Derivative, File
from webapp.files.tests import in_process_storage
from webapp.pages.tests.browser import (
    RunningStorage,
    SignedInBrowser,
    png_bytes,
    process_file,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMITTED = ":is([data-state=stored],[data-state=processing],[data-state=ready])"
FILES_INPUT = ".uppy-Dashboard-input >> nth=0"
# What the planted scripts would do: mark the window and call the site back.
BEACON_PATH = "/beacon-from-user-content"
SCRIPT = "window.pwned = true; fetch('{beacon}?ran=' + encodeURIComponent(location.href))"
SVG_KIND = "preview-svg"
DOWNLOAD_BUTTON = "a.button:has-text('Download')"
DERIVATIVE_LINK = ".derivatives-table a:has-text('Open')"


def page_html(beacon: str) -> bytes:
    script = SCRIPT.format(beacon=beacon)
    return f"<!doctype html><html><body><h1>Hi</h1><script>{script}</script></body></html>".encode()


def drawing_svg(beacon: str) -> bytes:
    script = SCRIPT.format(beacon=beacon)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
        f'<script>{script}</script><rect width="40" height="40" fill="red"/></svg>'
    ).encode()


@dataclass
class Watch:
    """What the browser did: the beacons it sent, and every request to the content host."""

    beacons: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)


@pytest.fixture(params=["separate-origin", "same-origin"])
def content_origin(request: Any, settings: Any, base_url: str) -> str:
    """The origin the bytes are served from: the user-content origin (the live server
    by its name) or, without one, the site's."""
    if request.param == "same-origin":
        return base_url
    origin = base_url.replace("127.0.0.1", "localhost")
    settings.USP = dataclasses.replace(settings.USP, usercontent_origin=origin)
    return origin


@pytest.fixture
def watched(signed_in_browser: SignedInBrowser, base_url: str) -> Iterator[tuple[Any, Watch]]:
    """A signed-in page whose beacons are caught (answered 204) and recorded."""
    page = signed_in_browser.new_page()
    watch = Watch()

    def beacon(route: Any) -> None:
        watch.beacons.append(route.request.url)
        route.fulfill(status=204)

    page.context.route(f"**{BEACON_PATH}**", beacon)
    page.context.on("request", lambda request: watch.requests.append(request))
    yield page, watch
    page.context.close()


def upload_through_the_page(page: Any, base_url: str, files: list[Path]) -> list[str]:
    """Upload `files` with the upload page (tus to storage); returns the upload URLs."""
    upload_urls: list[str] = []

    def record(request: Any) -> None:
        if request.method == "PATCH":
            upload_urls.append(request.url)

    page.on("request", record)
    page.goto(f"{base_url}/upload/")
    page.set_input_files(FILES_INPUT, [str(path) for path in files])
    for path in files:
        page.locator(f".upload-row[data-file-id]{COMMITTED}", has_text=path.name).wait_for()
    return sorted(set(upload_urls))


def store_derivative(storage: RunningStorage, file: File, data: bytes) -> None:
    """A derivative of the file with these bytes, as if a step had produced it."""
    with storage.client() as client:
        in_process_storage.store_derivative(
            client, original_sha256=file.sha256, file_id=str(file.id), kind=SVG_KIND, data=data
        )
    Derivative.objects.create(
        file=file,
        kind=SVG_KIND,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_type="image/svg+xml",
    )


def download(page: Any, action: Any) -> Any:
    """Runs `action` (a click or a navigation) and returns the download it starts."""
    from playwright.sync_api import Error

    with page.expect_download() as started:
        try:
            action()
        except Error as error:  # a navigation that turns into a download "fails"
            assert "download" in str(error).lower() or "ERR_ABORTED" in str(error), error
    return started.value


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_the_beacon_is_caught_when_a_script_does_run(
    watched: tuple[Any, Watch], base_url: str
) -> None:
    page, watch = watched
    page.goto("about:blank")

    with page.expect_response(f"**{BEACON_PATH}**"):
        page.set_content(page_html(f"{base_url}{BEACON_PATH}").decode())

    assert page.evaluate("() => window.pwned") is True
    assert len(watch.beacons) == 1


def test_stored_html_and_svg_are_downloaded_and_never_run_wherever_they_are_opened(
    watched: tuple[Any, Watch],
    base_url: str,
    user: User,
    content_origin: str,
    storage_system: RunningStorage,
    tmp_path: Path,
) -> None:
    page, watch = watched
    beacon = f"{base_url}{BEACON_PATH}"
    html, svg = tmp_path / "page.html", tmp_path / "drawing.svg"
    html.write_bytes(page_html(beacon))
    svg.write_bytes(drawing_svg(beacon))
    upload_urls = upload_through_the_page(page, base_url, [html, svg])
    files = {file.name: file for file in File.objects.filter(owner=user)}
    store_derivative(storage_system, files["drawing.svg"], svg.read_bytes())
    page_file, svg_file = files["page.html"], files["drawing.svg"]

    opened = [
        (open_from_file_page(page, base_url, page_file, DOWNLOAD_BUTTON), html, "page.html"),
        (open_from_api(page, base_url, page_file), html, "page.html"),
        (open_from_file_page(page, base_url, svg_file, DOWNLOAD_BUTTON), svg, "drawing.svg"),
        (open_from_api(page, base_url, svg_file), svg, "drawing.svg"),
        (
            open_from_file_page(page, base_url, svg_file, DERIVATIVE_LINK),
            svg,
            "drawing-preview-svg.svg",
        ),
        (open_from_api(page, base_url, svg_file, SVG_KIND), svg, "drawing-preview-svg.svg"),
    ]
    read_back = [read_back_upload_location(page, url) for url in upload_urls]

    assert [
        (origin(started.url), started.suggested_filename, Path(started.path()).read_bytes())
        for started, _, _ in opened
    ] == [(content_origin, name, path.read_bytes()) for _, path, name in opened]
    assert len(upload_urls) == 2
    assert read_back == [(405, "0")] * 2
    assert watch.beacons == []
    if content_origin != base_url:
        to_content = [r for r in watch.requests if origin(r.url) == content_origin]
        assert len(to_content) >= len(opened)
        assert [r.url for r in to_content if "cookie" in r.all_headers()] == []


def open_from_file_page(page: Any, base_url: str, file: File, link: str) -> Any:
    """Clicks a link of the file's page; the page stays, with no script of the file run."""
    page.goto(f"{base_url}/files/{file.id}/")
    started = download(page, page.locator(link).click)
    started.path()  # the whole download has arrived
    assert page.url == f"{base_url}/files/{file.id}/"
    assert page.evaluate("() => window.pwned") is None
    return started


def open_from_api(page: Any, base_url: str, file: File, kind: str = "") -> Any:
    """Navigates to the address the REST API gives for the file's bytes or derivative."""
    page.goto(f"{base_url}/files/{file.id}/")
    resource = page.evaluate("url => fetch(url).then((r) => r.json())", f"/api/v1/files/{file.id}/")
    url = resource["content_url"]
    if kind:
        url = next(d["url"] for d in resource["derivatives"] if d["kind"] == kind)
    started = download(page, lambda: page.goto(url))
    started.path()
    assert page.evaluate("() => window.pwned") is None
    return started


def read_back_upload_location(page: Any, url: str) -> tuple[int, str]:
    """A browser opening a storage upload location: its status and body length (Chromium
    shows its own error page for an empty error answer)."""
    from playwright.sync_api import Error

    with page.expect_response(lambda response: response.url == url) as answered:
        try:
            page.goto(url)
        except Error as error:
            assert "ERR_HTTP_RESPONSE_CODE_FAILURE" in str(error), error
    response = answered.value
    return response.status, response.headers.get("content-length", "")


@pytest.mark.usefixtures("storage_system")
def test_thumbnails_from_the_user_content_origin_show_on_the_upload_and_list_pages(
    watched: tuple[Any, Watch],
    base_url: str,
    user: User,
    settings: Any,
    storage_system: RunningStorage,
    tmp_path: Path,
) -> None:
    content_origin = base_url.replace("127.0.0.1", "localhost")
    settings.USP = dataclasses.replace(settings.USP, usercontent_origin=content_origin)
    page, watch = watched
    photo = tmp_path / "sunset.png"
    photo.write_bytes(png_bytes(320, 200, (230, 120, 40)))
    upload_through_the_page(page, base_url, [photo])
    file = File.objects.get(owner=user)

    process_file(storage_system, file, png_bytes(256, 160, (250, 200, 60)))
    thumbnail = page.locator(".upload-row", has_text="sunset.png").locator("img.thumbnail")
    thumbnail.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 256", arg=thumbnail.element_handle()
    )
    upload_page_src = thumbnail.get_attribute("src")
    page.goto(f"{base_url}/files/")
    listed = page.locator(f"tr[data-file-id='{file.pk}'] img.thumb-small")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 256", arg=listed.element_handle()
    )

    assert upload_page_src is not None and upload_page_src.startswith(f"{content_origin}/content/")
    images = [r for r in watch.requests if origin(r.url) == content_origin]
    assert len(images) >= 2
    assert [r.url for r in images if "cookie" in r.all_headers()] == []
