"""A new user's first hour, on the embedded default as `make run` starts it: sign up in
a real browser, confirm the address from the mail the system printed, sign in, create
an API token on the account page, and use it from the `usp` CLI to upload a file,
follow it to ready and download it verified. Another user's token learns nothing of it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.system import (
    ROOT,
    RunningSystem,
    create_user_with_token,
    running_system,
    system_env,
)
from tests.waiting import wait_for
from webapp.pages.tests.browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS

EMAIL = "new.user@example.org"
PASSWORD = "a long and unusual passphrase 71"
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/accounts/confirm-email/[^\s]+/")


@pytest.fixture
def system(tmp_path: Path) -> Iterator[RunningSystem]:
    env = system_env(tmp_path / "data", USP_ACCOUNT_EMAIL_VERIFICATION="mandatory")
    with running_system(env) as running:
        yield running


@pytest.fixture
def page(system: RunningSystem) -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


def usp(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, with its settings in `config`."""
    env = {**os.environ, "USP_CONFIG": str(config)}
    env = {k: v for k, v in env.items() if k not in ("USP_URL", "USP_TOKEN")}
    return subprocess.run(
        [sys.executable, "-m", "usp.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sign_up_and_confirm(page: Any, system: RunningSystem) -> None:
    page.goto(f"{system.url}/accounts/signup/")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/accounts/confirm-email/")
    link = wait_for(
        lambda: CONFIRM_LINK.search(system.log()), what="the verification mail in the output"
    )[0]
    page.goto(link)
    page.click("form button[type=submit]")


def sign_in(page: Any, system: RunningSystem) -> None:
    page.goto(f"{system.url}/accounts/login/")
    if not page.url.endswith("/accounts/login/"):  # confirming the address signed in
        return
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{system.url}/upload/")
    assert f"signed in as {EMAIL.split('@')[0]}" in page.inner_text("main")


def create_token(page: Any, system: RunningSystem) -> str:
    page.goto(f"{system.url}/accounts/tokens/")
    page.fill("input[name=name]", "laptop")
    page.click("form.token-form button[type=submit]")
    return str(page.text_content(".token-key")).strip()


def photo(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 80, 40)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def test_a_new_user_signs_up_verifies_makes_a_token_and_uses_it_from_the_cli(
    system: RunningSystem, page: Any, tmp_path: Path
) -> None:
    sign_up_and_confirm(page, system)
    sign_in(page, system)
    key = create_token(page, system)
    assert key.startswith("usp_")

    config = tmp_path / "cli.json"
    assert usp(config, "login", system.url, "--token", key).returncode == 0
    data = photo(tmp_path / "first photo.jpg")
    uploaded = usp(config, "upload", "--no-progress", str(tmp_path / "first photo.jpg"))
    assert uploaded.returncode == 0, uploaded.stderr
    file_id = uploaded.stdout.split()[0]
    watched = usp(config, "watch", file_id, "--timeout", "60")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    listed = usp(config, "ls").stdout.splitlines()
    assert [row.split()[:2] for row in listed[1:]] == [[file_id, "ready"]], listed
    saved = tmp_path / "downloaded.jpg"
    assert usp(config, "get", file_id, "-o", str(saved)).returncode == 0
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(data).digest()

    page.goto(f"{system.url}/accounts/tokens/")
    assert page.text_content(".token-row .state-active") == "active"
    assert page.text_content(".token-row td:nth-child(4)") != "never"  # last use shown

    other = tmp_path / "other.json"
    other_key = create_user_with_token(system.env, "someone-else")
    assert usp(other, "login", system.url, "--token", other_key).returncode == 0
    made_up = str(uuid.uuid4())
    for command in (("get", "-o", str(tmp_path / "theirs.jpg")), ("watch",)):
        stranger = usp(other, command[0], file_id, *command[1:])
        nobody = usp(other, command[0], made_up, *command[1:])
        assert stranger.returncode == nobody.returncode == 1
        assert stranger.stderr == nobody.stderr.replace(made_up, file_id)
    assert file_id not in usp(other, "ls").stdout + usp(other, "jobs").stdout
    assert not (tmp_path / "theirs.jpg").exists()
