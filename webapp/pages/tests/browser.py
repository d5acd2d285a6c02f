"""What the browser tests share: chromium through Playwright, the real storage service
(gRPC control plane and tus data plane) in this process, and simulated processing.

Storage's events go straight to the webapp's catalog through `event_apply`, the function
the event consumer calls; no processor runs, so tests report the jobs' results
themselves (`process_file`), storing the thumbnail in the real storage like the
processor's image step does.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from PIL import Image

from usp import events
from usp.storage_client import StorageClient, object_to_proto
from usp.v1 import common_pb2, processor_service_pb2
from webapp.accounts.models import User
from webapp.files.events import event_apply
from webapp.files.models import File, Job
from webapp.files.tests.in_process_storage import storage_in_process, store_derivative

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
WAIT_MS = 20_000
THUMBNAIL_KIND = "thumbnail-256"


def png_bytes(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class RunningStorage:
    server: Any  # storage_service.server.StorageServer
    grpc_target: str
    token: str

    def client(self) -> StorageClient:
        return StorageClient(self.grpc_target, self.token)


@pytest.fixture
def base_url(live_server: Any) -> str:
    """The live server by its loopback address rather than by name."""
    return str(live_server.url).replace("localhost", "127.0.0.1")


@pytest.fixture
def storage_system(settings: Any, base_url: str, tmp_path: Path) -> Iterator[RunningStorage]:
    """The real storage service on free ports, trusting the live server's origin;
    settings.USP points the webapp at it."""
    environ = {"USP_CORS_ORIGINS": base_url}
    with storage_in_process(settings, tmp_path / "storage", environ=environ) as server:
        target = settings.USP.storage_grpc_target
        yield RunningStorage(server=server, grpc_target=target, token=settings.USP.service_token)


@dataclass
class SignedInBrowser:
    browser: Any
    base_url: str
    session: str

    def new_page(self, *, javascript: bool = True) -> Any:
        """A page in a fresh context carrying the user's session cookie."""
        context = self.browser.new_context(
            viewport={"width": 1100, "height": 900}, java_script_enabled=javascript
        )
        cookie = {"name": django_settings.SESSION_COOKIE_NAME, "value": self.session}
        context.add_cookies([{**cookie, "url": self.base_url}])
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        return page


@pytest.fixture
def signed_in_browser(
    base_url: str, user: User, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SignedInBrowser]:
    """Chromium with `user`'s session; fails under CI=true when chromium is missing."""
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
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield SignedInBrowser(browser, base_url, session)
        finally:
            browser.close()


@pytest.fixture
def browser_page(signed_in_browser: SignedInBrowser) -> Any:
    return signed_in_browser.new_page()


def process_file(storage: RunningStorage, file: File, thumbnail: bytes) -> None:
    """What the processor would report: every job started, then succeeded; the thumbnail
    step stores its derivative in storage first, like the real one does."""
    for job in Job.objects.filter(file=file):
        _apply(events.JOB_STARTED, job, processor_service_pb2.JobStarted(attempt=1, step=job.step))
        succeeded = processor_service_pb2.JobSucceeded(attempt=1, step=job.step)
        if job.step == "image.thumbnail":
            succeeded.derivatives.append(_store_thumbnail(storage, job, thumbnail))
        else:
            succeeded.metadata.update({"width": 320, "height": 200})
        _apply(events.JOB_SUCCEEDED, job, succeeded)


def _apply(event_type: str, job: Job, payload: Any) -> None:
    envelope = events.make_envelope(
        event_type, file_id=str(job.file_id), job_id=str(job.id), payload=payload, attempt=1
    )
    event_apply(envelope=envelope)


def _store_thumbnail(storage: RunningStorage, job: Job, data: bytes) -> common_pb2.Derivative:
    with storage.client() as client:
        stored = store_derivative(
            client,
            original_sha256=job.file.sha256,
            file_id=str(job.file_id),
            kind=THUMBNAIL_KIND,
            data=data,
            job_id=str(job.id),
        )
    return common_pb2.Derivative(kind=THUMBNAIL_KIND, object=object_to_proto(stored))


def screenshot(page: Any, name: str) -> None:
    """Saved where USP_SCREENSHOT_DIR says, to look at the pages while changing them."""
    directory = os.environ.get("USP_SCREENSHOT_DIR")
    if directory:
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
