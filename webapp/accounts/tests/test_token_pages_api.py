from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from webapp.accounts.models import ApiToken, User
from webapp.accounts.services import api_token_create
from webapp.accounts.tests.factories import user_make

pytestmark = pytest.mark.django_db

KEY = re.compile(r"usp_[A-Za-z0-9_-]{40}")


@pytest.fixture
def user() -> User:
    return user_make(username="alice")


@pytest.fixture
def page_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_status_with(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return int(client.get("/api/v1/files/").status_code)


# --- the account page ---------------------------------------------------------------


def test_page_needs_a_signed_in_user() -> None:
    response = Client().get("/accounts/tokens/")

    assert (response.status_code, response["Location"]) == (
        302,
        "/accounts/login/?next=/accounts/tokens/",
    )


def test_page_shows_usage_against_quota(page_client: Client, settings: Any) -> None:
    html = page_client.get("/accounts/tokens/").content.decode()

    assert f"0 of {settings.USP.quota_files}" in html
    assert 'href="/accounts/tokens/"' in html


def test_created_key_is_shown_once_and_the_list_afterwards_does_not_show_it(
    page_client: Client, user: User
) -> None:
    created = page_client.post("/accounts/tokens/", {"name": "laptop", "expires_in_days": "30"})

    keys = KEY.findall(created.content.decode())
    assert (created.status_code, len(keys), created["Cache-Control"]) == (200, 1, "no-store")
    token = ApiToken.objects.get(user=user)
    assert (token.name, token.prefix) == ("laptop", keys[0][:8])
    assert token.expires_at is not None
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    later = page_client.get("/accounts/tokens/").content.decode()
    assert keys[0] not in later
    assert KEY.findall(later) == []
    assert "laptop" in later and f"{token.prefix}…" in later
    assert api_status_with(keys[0]) == 200


def test_page_without_a_name_creates_nothing(page_client: Client) -> None:
    response = page_client.post("/accounts/tokens/", {"name": "  ", "expires_in_days": ""})

    assert response.status_code == 400
    assert ApiToken.objects.count() == 0


def test_revoke_on_the_page_stops_the_token_authenticating(page_client: Client, user: User) -> None:
    token, key = api_token_create(user=user, name="ci")
    assert api_status_with(key) == 200

    response = page_client.post(f"/accounts/tokens/{token.pk}/revoke/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/tokens/")
    assert api_status_with(key) == 401
    html = page_client.get("/accounts/tokens/").content.decode()
    assert "state-revoked" in html


def test_page_cannot_revoke_another_users_token(page_client: Client) -> None:
    other, other_key = api_token_create(user=user_make(username="bob"), name="bob's")

    response = page_client.post(f"/accounts/tokens/{other.pk}/revoke/")

    assert response.status_code == 404
    assert api_status_with(other_key) == 200


def test_page_lists_an_expired_token_as_expired_and_it_is_refused(
    page_client: Client, user: User
) -> None:
    _token, key = api_token_create(
        user=user, name="old", expires_at=timezone.now() - timedelta(seconds=1)
    )

    html = page_client.get("/accounts/tokens/").content.decode()

    assert "state-expired" in html
    assert api_status_with(key) == 401


def test_page_forms_need_the_csrf_token(user: User) -> None:
    token, key = api_token_create(user=user, name="ci")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    created = client.post("/accounts/tokens/", {"name": "x"})
    revoked = client.post(f"/accounts/tokens/{token.pk}/revoke/")

    assert (created.status_code, revoked.status_code) == (403, 403)
    assert list(ApiToken.objects.values_list("name", "revoked_at")) == [("ci", None)]
    assert api_status_with(key) == 200


def test_page_form_with_its_csrf_token_is_accepted(user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/accounts/tokens/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert csrf is not None

    created = client.post("/accounts/tokens/", {"name": "x", "csrfmiddlewaretoken": csrf.group(1)})

    assert created.status_code == 200
    assert ApiToken.objects.filter(name="x").count() == 1


# --- REST -------------------------------------------------------------------------


@pytest.fixture
def api(user: User) -> APIClient:
    client = APIClient()
    _token, key = api_token_create(user=user, name="cli")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_api_create_returns_the_key_once_and_the_list_never_does(
    api: APIClient, user: User
) -> None:
    created = api.post("/api/v1/tokens/", {"name": "ci", "expires_in_days": 90}, format="json")

    body = created.json()
    token = ApiToken.objects.get(name="ci")
    assert token.expires_at is not None
    assert (created.status_code, created["Cache-Control"]) == (201, "no-store")
    assert body == {
        "id": token.pk,
        "name": "ci",
        "prefix": body["key"][:8],
        "created_at": body["created_at"],
        "last_used_at": None,
        "expires_at": body["expires_at"],
        "state": "active",
        "key": body["key"],
    }
    assert KEY.fullmatch(body["key"])
    assert api_status_with(body["key"]) == 200
    listed = api.get("/api/v1/tokens/")
    assert body["key"] not in listed.content.decode()
    cli = ApiToken.objects.get(name="cli")
    token.refresh_from_db()
    assert listed.json() == [
        {
            "id": token.pk,
            "name": "ci",
            "prefix": token.prefix,
            "created_at": body["created_at"],
            "last_used_at": listed.json()[0]["last_used_at"],
            "expires_at": body["expires_at"],
            "state": "active",
        },
        {
            "id": cli.pk,
            "name": "cli",
            "prefix": cli.prefix,
            "created_at": listed.json()[1]["created_at"],
            "last_used_at": listed.json()[1]["last_used_at"],
            "expires_at": None,
            "state": "active",
        },
    ]
    assert listed.json()[0]["last_used_at"] is not None


def test_api_list_shows_only_own_tokens(api: APIClient) -> None:
    api_token_create(user=user_make(username="bob"), name="bob's")

    assert [row["name"] for row in api.get("/api/v1/tokens/").json()] == ["cli"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"name": ""}, "name"), ({"name": "x", "expires_in_days": 7}, "expires_in_days")],
)
def test_api_create_refuses_bad_input(api: APIClient, payload: dict[str, Any], field: str) -> None:
    response = api.post("/api/v1/tokens/", payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert field in str(response.json())
    assert ApiToken.objects.count() == 1


def test_api_delete_revokes_and_the_token_stops_authenticating(api: APIClient, user: User) -> None:
    token, key = api_token_create(user=user, name="ci")

    response = api.delete(f"/api/v1/tokens/{token.pk}/")

    assert response.status_code == 204
    assert api_status_with(key) == 401
    listed = {row["name"]: row["state"] for row in api.get("/api/v1/tokens/").json()}
    assert listed == {"ci": "revoked", "cli": "active"}


def test_api_delete_of_another_users_token_is_404(api: APIClient) -> None:
    other, other_key = api_token_create(user=user_make(username="bob"), name="bob's")

    response = api.delete(f"/api/v1/tokens/{other.pk}/")

    assert (response.status_code, response.json()) == (
        404,
        {"error": {"code": "not_found", "message": "No such token."}},
    )
    assert api_status_with(other_key) == 200


def test_api_needs_authentication() -> None:
    assert APIClient().get("/api/v1/tokens/").status_code == 401


def test_api_with_a_session_needs_csrf_for_create(user: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/api/v1/tokens/", {"name": "x"}, format="json")

    assert response.status_code == 403
    assert ApiToken.objects.count() == 0


def test_schema_documents_the_token_operations() -> None:
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    assert set(schema["paths"]["/api/v1/tokens/"]) == {"get", "post"}
    assert set(schema["paths"]["/api/v1/tokens/{token_id}/"]) == {"delete"}
