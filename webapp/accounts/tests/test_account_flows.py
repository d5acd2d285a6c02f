"""Password reset, change of e-mail address and change of password, end to end through
the pages with CSRF checks on, following the links of the mails that were sent."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from webapp.accounts.models import User
from webapp.accounts.tests.browsing import (
    browser,
    sign_in,
    signed_in_user_id,
    submit,
    verified_user_make,
)

pytestmark = pytest.mark.django_db

OLD_PASSWORD = "first-Password-1"
NEW_PASSWORD = "second-Password-2"
LINK = re.compile(r"https?://testserver(/\S+)")


def mail_link(index: int = -1) -> str:
    links = LINK.findall(str(mail.outbox[index].body))
    assert len(links) == 1, mail.outbox[index].body
    return str(links[0])


def test_a_form_posted_without_the_csrf_token_is_refused() -> None:
    verified_user_make("dora@example.com", OLD_PASSWORD)
    client = browser()
    client.get("/accounts/login/")

    response = client.post(
        "/accounts/login/", {"login": "dora@example.com", "password": OLD_PASSWORD}
    )

    assert response.status_code == 403
    assert signed_in_user_id(client) is None


def test_password_reset_mails_a_link_that_sets_a_new_password_once() -> None:
    user = verified_user_make("dora@example.com", OLD_PASSWORD)
    client = browser()

    requested = submit(client, "/accounts/password/reset/", {"email": "DORA@example.com"})
    assert (requested.status_code, requested["Location"]) == (302, "/accounts/password/reset/done/")
    assert [message.to for message in mail.outbox] == [["dora@example.com"]]
    link = mail_link()

    opened = client.get(link)
    assert opened.status_code == 302
    set_password_page = opened["Location"]
    assert set_password_page.endswith("-set-password/")
    changed = submit(
        client, set_password_page, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert (changed.status_code, changed["Location"]) == (
        302,
        "/accounts/password/reset/key/done/",
    )

    old, new = browser(), browser()
    sign_in(old, "dora@example.com", OLD_PASSWORD)
    signed_in = sign_in(new, "dora@example.com", NEW_PASSWORD)
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/")
    assert (signed_in_user_id(old), signed_in_user_id(new)) == (None, str(user.pk))

    reused = browser().get(link)
    assert reused.status_code == 200
    assert "Bad Token" in reused.content.decode()


def test_password_reset_of_an_unknown_address_changes_nothing_and_reveals_nothing() -> None:
    verified_user_make("dora@example.com", OLD_PASSWORD)

    response = submit(browser(), "/accounts/password/reset/", {"email": "nobody@example.com"})

    assert (response.status_code, response["Location"]) == (302, "/accounts/password/reset/done/")
    assert [message.to for message in mail.outbox] == [["nobody@example.com"]]
    assert "/accounts/password/reset/key/" not in str(mail.outbox[0].body)


def test_a_new_email_address_is_verified_by_its_mail_then_made_primary() -> None:
    user = verified_user_make("dora@example.com", OLD_PASSWORD)
    client = browser()
    sign_in(client, "dora@example.com", OLD_PASSWORD)

    added = submit(client, "/accounts/email/", {"action_add": "", "email": "dora@new.example"})
    assert (added.status_code, added["Location"]) == (302, "/accounts/email/")
    assert [message.to for message in mail.outbox] == [["dora@new.example"]]

    # Unverified, it cannot become the address the account signs in with.
    submit(client, "/accounts/email/", {"action_primary": "", "email": "dora@new.example"})
    user.refresh_from_db()
    assert user.email == "dora@example.com"

    link = mail_link()
    confirmed = submit(client, link, {})
    assert confirmed.status_code == 302
    made_primary = submit(
        client, "/accounts/email/", {"action_primary": "", "email": "dora@new.example"}
    )
    assert made_primary.status_code == 302

    user.refresh_from_db()
    addresses = {
        address.email: (address.verified, address.primary)
        for address in EmailAddress.objects.filter(user=user)
    }
    assert user.email == "dora@new.example"
    assert addresses == {"dora@example.com": (True, False), "dora@new.example": (True, True)}
    again = browser()
    sign_in(again, "dora@new.example", OLD_PASSWORD)
    assert signed_in_user_id(again) == str(user.pk)


def test_an_address_of_another_account_is_never_verified_for_a_second_one() -> None:
    verified_user_make("dora@example.com", OLD_PASSWORD)
    verified_user_make("eve@example.com", OLD_PASSWORD)
    client = browser()
    sign_in(client, "eve@example.com", OLD_PASSWORD)

    # The page answers as for any address: whether one is taken is not revealed.
    added = submit(client, "/accounts/email/", {"action_add": "", "email": "dora@example.com"})
    opened = browser().get(mail_link())

    assert (added.status_code, added["Location"]) == (302, "/accounts/email/")
    assert "already confirmed by a different account" in opened.content.decode()
    assert set(EmailAddress.objects.values_list("user__username", "email", "verified")) == {
        ("dora", "dora@example.com", True),
        ("eve", "eve@example.com", True),
        ("eve", "dora@example.com", False),
    }


def test_change_of_password_keeps_the_session_and_replaces_the_old_password() -> None:
    user = verified_user_make("dora@example.com", OLD_PASSWORD)
    client = browser()
    sign_in(client, "dora@example.com", OLD_PASSWORD)

    changed = submit(
        client,
        "/accounts/password/change/",
        {"oldpassword": OLD_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert changed.status_code == 302
    assert signed_in_user_id(client) == str(user.pk)
    assert client.get("/accounts/email/").status_code == 200
    old, new = browser(), browser()
    sign_in(old, "dora@example.com", OLD_PASSWORD)
    sign_in(new, "dora@example.com", NEW_PASSWORD)
    assert (signed_in_user_id(old), signed_in_user_id(new)) == (None, str(user.pk))


def test_change_of_password_needs_the_current_one() -> None:
    user = verified_user_make("dora@example.com", OLD_PASSWORD)
    client = browser()
    sign_in(client, "dora@example.com", OLD_PASSWORD)

    refused = submit(
        client,
        "/accounts/password/change/",
        {"oldpassword": "not-it-at-all", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    user.refresh_from_db()
    assert refused.status_code == 200
    assert "Please type your current password." in refused.content.decode()
    assert user.check_password(OLD_PASSWORD)


def test_pages_of_a_signed_in_account_link_to_each_other() -> None:
    verified_user_make("dora@example.com", OLD_PASSWORD)
    client = browser()
    sign_in(client, "dora@example.com", OLD_PASSWORD)

    pages = {
        url: client.get(url).content.decode()
        for url in ("/accounts/email/", "/accounts/password/change/")
    }

    for url, html in pages.items():
        assert '<nav class="subnav" aria-label="Account">' in html
        assert f'href="{url}" aria-current="page"' in html
        assert 'href="/accounts/tokens/"' in html
    assert User.objects.count() == 1
