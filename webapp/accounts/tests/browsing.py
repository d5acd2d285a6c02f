"""The Django test client used like a browser: CSRF checks enforced, every form posted
with the token of the page it was opened from."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.test import Client

from webapp.accounts.models import User


def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def submit(client: Client, url: str, data: dict[str, str], *, page: str = "") -> Any:
    """Open `page` (default: `url`), then post `data` to `url` as its form would."""
    opened = client.get(page or url)
    assert opened.status_code == 200, (page or url, opened.status_code)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.post(url, {**data, "csrfmiddlewaretoken": token})


def sign_in(client: Client, email: str, password: str) -> Any:
    return submit(client, "/accounts/login/", {"login": email, "password": password})


def signed_in_user_id(client: Client) -> str | None:
    value = client.session.get("_auth_user_id")
    return None if value is None else str(value)


def verified_user_make(email: str, password: str) -> User:
    """A user who signed up with `email` and verified it."""
    user = User.objects.create_user(email.split("@")[0], email, password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user
