"""The account pages in chromium: inside the site's layout and stylesheet, and nothing on
them is refused by the Content-Security-Policy (no inline style or script is needed)."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.account.models import EmailAddress

from webapp.accounts.models import User
from webapp.pages.tests.browser import WAIT_MS, SignedInBrowser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANONYMOUS_PAGES = ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
ACCOUNT_PAGES = ["/accounts/email/", "/accounts/password/change/"]
HEADER_BACKGROUND = "rgb(255, 255, 255)"  # .site-header in core/base.css


def open_page(page: Any, url: str) -> list[str]:
    """Load `url`; the console errors it caused (a CSP refusal is one), but for the
    browser's own request of /favicon.ico, which the site does not have."""
    errors: list[str] = []

    def keep(message: Any) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", keep)
    try:
        response = page.goto(url)
        page.wait_for_load_state("load")
    finally:
        page.remove_listener("console", keep)
    assert response is not None and response.status == 200, url
    return errors


def styled_by_the_site(page: Any) -> tuple[str, str]:
    header = page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    button = page.evaluate("getComputedStyle(document.querySelector('main button')).borderRadius")
    return header, button


def test_sign_in_sign_up_and_reset_pages_are_styled_and_break_no_policy(
    signed_in_browser: SignedInBrowser,
) -> None:
    context = signed_in_browser.browser.new_context()
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)

    results = {
        url: (open_page(page, signed_in_browser.base_url + url), styled_by_the_site(page))
        for url in ANONYMOUS_PAGES
    }

    assert results == {url: ([], (HEADER_BACKGROUND, "6px")) for url in ANONYMOUS_PAGES}


def test_email_and_password_pages_are_styled_and_their_script_runs_under_the_policy(
    signed_in_browser: SignedInBrowser, user: User
) -> None:
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    page = signed_in_browser.new_page()

    results = {
        url: (open_page(page, signed_in_browser.base_url + url), styled_by_the_site(page))
        for url in ACCOUNT_PAGES
    }
    page.goto(signed_in_browser.base_url + "/accounts/email/")
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.click("button[name=action_remove]")

    assert results == {url: ([], (HEADER_BACKGROUND, "6px")) for url in ACCOUNT_PAGES}
    # allauth's script (a static file) asks before removing an address.
    assert dialogs == ["Do you really want to remove the selected email address?"]
    assert EmailAddress.objects.filter(user=user).count() == 1
