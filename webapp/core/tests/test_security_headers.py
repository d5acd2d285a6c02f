from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from webapp.accounts.models import User
from webapp.core.csp import content_security_policy, origin_of
from webapp.files.tests.factories import file_make
from webapp.files.tests.fake_storage import FakeStorageServer

pytestmark = pytest.mark.django_db


def page_policy(*, inline_styles: bool = False) -> str:
    storage = origin_of(settings.USP.storage_public_url)
    style = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return (
        "default-src 'self'; img-src 'self' data: blob:; "
        f"style-src {style}; script-src 'self'; connect-src 'self' {storage}; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )


def test_policy_lets_pages_send_upload_bytes_to_the_storage_origin_only() -> None:
    policy = content_security_policy("https://upload.example.com:8443/tus/")

    assert "connect-src 'self' https://upload.example.com:8443;" in policy
    assert "style-src 'self';" in policy


def test_pages_show_images_from_the_user_content_origin_only_when_one_is_set(
    settings: Any,
) -> None:
    settings.USP = dataclasses.replace(
        settings.USP, usercontent_origin="https://usercontent.example.net"
    )

    policy = Client().get("/accounts/login/")["Content-Security-Policy"]

    assert policy == page_policy().replace(
        "img-src 'self' data: blob:;", "img-src 'self' data: blob: https://usercontent.example.net;"
    )


def test_a_configured_storage_origin_is_the_only_other_place_pages_connect_to(
    settings: Any,
) -> None:
    settings.USP = dataclasses.replace(
        settings.USP, storage_public_url="https://upload.example.com/tus"
    )

    response = Client().get("/accounts/login/")

    assert response["Content-Security-Policy"] == (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self' https://upload.example.com; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'; object-src 'none'"
    )


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/"])
def test_anonymous_pages_carry_the_site_policy_and_security_headers(path: str) -> None:
    response = Client().get(path)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == page_policy()
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/upload/", "/files/"])
def test_signed_in_pages_carry_the_site_policy(user: User, path: str) -> None:
    client = Client()
    client.force_login(user)

    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == page_policy()


def test_api_docs_allow_inline_styles_but_load_their_script_from_the_site(user: User) -> None:
    client = Client()
    client.force_login(user)

    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    assert page.status_code == 200
    assert page["Content-Security-Policy"] == page_policy(inline_styles=True)
    assert b"<script>" not in page.content
    assert b'src="/api/docs/?script=' in page.content
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def test_browsable_api_allows_inline_styles_but_no_inline_scripts(user: User) -> None:
    client = Client()
    client.force_login(user)

    response = client.get("/api/v1/files/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"] == page_policy(inline_styles=True)


def test_downloads_keep_their_own_sandbox_policy(
    user: User, fake_storage: FakeStorageServer
) -> None:
    data = b"<html><script>alert(1)</script></html>"
    fake_storage.storage.blobs[hashlib.sha256(data).hexdigest()] = data
    stored = file_make(owner=user, name="page.html", data=data, content_type="text/html")
    client = APIClient()
    client.force_authenticate(user)

    response: Any = client.get(f"/api/v1/files/{stored.id}/content")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
