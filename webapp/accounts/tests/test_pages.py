from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from webapp.accounts.models import User

pytestmark = pytest.mark.django_db


def test_login_page_is_inside_the_site_layout_and_asks_for_an_email() -> None:
    response = Client().get("/accounts/login/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<a class="brand" href="/">upload-store-process</a>' in html
    assert 'type="email"' in html
    assert "/static/core/base.css" in html


def test_signup_asks_for_email_and_password_twice_and_no_username() -> None:
    html = Client().get("/accounts/signup/").content.decode()

    fields = ('name="email"', 'name="password1"', 'name="password2"', 'name="username"')
    assert [field in html for field in fields] == [True, True, True, False]


def sign_in(client: Client) -> Any:
    User.objects.create_user("carol", "carol@example.com", "pw-long-enough-1")
    return client.post(
        "/accounts/login/", {"login": "carol@example.com", "password": "pw-long-enough-1"}
    )


def test_signing_in_with_email_and_password_works_without_verification(settings: Any) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    client = Client()

    response = sign_in(client)

    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.session.get("_auth_user_id") == str(User.objects.get().pk)


def test_mandatory_verification_mails_a_link_instead_of_signing_in(settings: Any) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client = Client()

    response = sign_in(client)

    assert (response.status_code, response["Location"]) == (302, "/accounts/confirm-email/")
    assert client.session.get("_auth_user_id") is None
    assert [message.to for message in mail.outbox] == [["carol@example.com"]]


def test_staff_see_the_admin_link_and_others_do_not() -> None:
    staff = User.objects.create_user("st", "st@example.com", "pw", is_staff=True)
    plain = User.objects.create_user("pl", "pl@example.com", "pw")
    pages = {}
    for user in (staff, plain):
        client = Client()
        client.force_login(user)
        pages[user.username] = client.get("/accounts/email/").content.decode()

    assert ('href="/admin/"' in pages["st"], 'href="/admin/"' in pages["pl"]) == (True, False)
