from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from webapp.accounts.models import ApiToken, User
from webapp.accounts.services import (
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    user_for_authorization_header,
)
from webapp.accounts.tests.factories import user_make
from webapp.core.errors import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> User:
    return user_make(username="alice")


def test_created_token_is_usp_prefixed_and_only_its_hash_is_stored(user: User) -> None:
    token, key = api_token_create(user=user, name="laptop")

    assert re.fullmatch(r"usp_[A-Za-z0-9_-]{40}", key)
    row = ApiToken.objects.get()
    assert (row.pk, row.name, row.prefix, row.key_hash) == (
        token.pk,
        "laptop",
        key[:8],
        hashlib.sha256(key.encode()).hexdigest(),
    )
    stored_values = [str(value) for value in ApiToken.objects.values_list().get()]
    assert key not in stored_values


def test_token_without_a_name_is_refused(user: User) -> None:
    with pytest.raises(InvalidInput) as caught:
        api_token_create(user=user, name="  ")
    assert caught.value.code == "token_name_required"


def test_valid_key_authenticates_its_user_and_records_the_use(user: User) -> None:
    _token, key = api_token_create(user=user, name="t")

    assert api_token_authenticate(key=key) == user
    assert ApiToken.objects.get().last_used_at is not None


def test_last_use_is_recorded_at_most_once_a_minute(user: User) -> None:
    _token, key = api_token_create(user=user, name="t")
    recent = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.update(last_used_at=recent)

    api_token_authenticate(key=key)
    assert ApiToken.objects.get().last_used_at == recent

    ApiToken.objects.update(last_used_at=recent - timedelta(minutes=1))
    api_token_authenticate(key=key)
    last_used_at = ApiToken.objects.get().last_used_at
    assert last_used_at is not None and last_used_at > recent


@pytest.mark.parametrize(
    "key", ["", "usp_", "nonsense", "usp_" + "A" * 40, "Token usp_x", "usp_" + "x" * 500]
)
def test_unknown_or_malformed_keys_authenticate_nobody(user: User, key: str) -> None:
    api_token_create(user=user, name="t")

    assert api_token_authenticate(key=key) is None


def test_key_with_the_right_prefix_but_wrong_secret_authenticates_nobody(user: User) -> None:
    _token, key = api_token_create(user=user, name="t")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")

    assert api_token_authenticate(key=tampered) is None


def test_revoked_expired_and_inactive_users_tokens_authenticate_nobody(user: User) -> None:
    revoked, revoked_key = api_token_create(user=user, name="revoked")
    api_token_revoke(token=revoked)
    _expired, expired_key = api_token_create(
        user=user, name="expired", expires_at=timezone.now() - timedelta(seconds=1)
    )
    other = user_make(username="inactive", is_active=False)
    _inactive, inactive_key = api_token_create(user=other, name="inactive")
    _future, future_key = api_token_create(
        user=user, name="future", expires_at=timezone.now() + timedelta(days=1)
    )

    assert [
        api_token_authenticate(key=key)
        for key in (revoked_key, expired_key, inactive_key, future_key)
    ] == [None, None, None, user]


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_authorization_header_with_either_scheme_gives_the_user(user: User, scheme: str) -> None:
    _token, key = api_token_create(user=user, name="t")

    assert user_for_authorization_header(f"{scheme} {key}") == user


@pytest.mark.parametrize("value", ["", "Basic abc", "Token", "Token usp_wrong", "usp_x"])
def test_authorization_header_without_a_valid_token_gives_nobody(user: User, value: str) -> None:
    api_token_create(user=user, name="t")

    assert user_for_authorization_header(value) is None


# --- DRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_api_accepts_token_and_bearer_schemes(user: User, scheme: str) -> None:
    _token, key = api_token_create(user=user, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")

    response = client.get("/api/v1/files/")

    assert (response.status_code, response.json()) == (
        200,
        {"count": 0, "next": None, "previous": None, "results": []},
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Token usp_notavalidtoken", "The token is not valid, expired or revoked."),
        ("Bearer", "Malformed Authorization header: send 'Token <key>'."),
        ("Token a b", "Malformed Authorization header: send 'Token <key>'."),
    ],
)
def test_api_answers_a_bad_token_with_401(user: User, header: str, message: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/files/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"error": {"code": "authentication_failed", "message": message}}


# --- create_api_token --------------------------------------------------------------------


def test_create_api_token_prints_a_working_key_on_its_last_line(user: User) -> None:
    out = StringIO()

    call_command("create_api_token", "alice", "--name", "ci", stdout=out)

    key = out.getvalue().strip().splitlines()[-1]
    assert api_token_authenticate(key=key) == user
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["ci"]


def test_create_api_token_finds_the_user_by_email_too(user: User) -> None:
    out = StringIO()

    call_command("create_api_token", "ALICE@example.com", stdout=out)

    assert api_token_authenticate(key=out.getvalue().splitlines()[-1]) == user


def test_create_api_token_for_an_unknown_user_is_an_error(user: User) -> None:
    with pytest.raises(CommandError, match="no user with username or e-mail 'bob'"):
        call_command("create_api_token", "bob", stdout=StringIO())
    assert ApiToken.objects.count() == 0
