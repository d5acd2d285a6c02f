"""Serving stored bytes from the user-content origin: the site redirects its owner to a
signed link there, and only that link (on that host) sends the bytes."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from webapp.accounts.models import User
from webapp.files.models import File
from webapp.files.tests.factories import derivative_make, file_make
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.usercontent.links import usercontent_link
from webapp.usercontent.tests.conftest import HOST, ORIGIN

pytestmark = pytest.mark.django_db

PAGE = b"<html><body><script>window.pwned = true</script>hello</body></html>"
SHA = hashlib.sha256(PAGE).hexdigest()
THUMBNAIL = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24)
THUMB_SHA = hashlib.sha256(THUMBNAIL).hexdigest()
CONTENT_HEADERS = {
    "ETag": f'"{SHA}"',
    "Accept-Ranges": "bytes",
    "Cache-Control": "private, no-cache",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Content-Disposition": 'attachment; filename="page.html"',
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Type": "text/html",
    "Content-Length": str(len(PAGE)),
}


@pytest.fixture
def page(user: User, fake_storage: FakeStorageServer) -> File:
    fake_storage.storage.blobs[SHA] = PAGE
    fake_storage.storage.blobs[THUMB_SHA] = THUMBNAIL
    file = file_make(owner=user, name="page.html", data=PAGE, content_type="text/html")
    derivative_make(file=file, kind="thumbnail-256", data=THUMBNAIL)
    return file


def on_usercontent(client: Client, url: str, method: str = "get", **headers: Any) -> Any:
    """Requests `url` the way a browser would: by its own host."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == ORIGIN, url
    return getattr(client, method)(parts.path, HTTP_HOST=HOST, secure=True, **headers)


def body(response: Any) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.content)


def headers_of(response: Any) -> dict[str, str]:
    return {name: response[name] for name in CONTENT_HEADERS if response.has_header(name)}


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


# --- the site's content endpoints redirect their owner ---------------------------------


@pytest.mark.usefixtures("usercontent")
@pytest.mark.parametrize("method", ["get", "head"])
def test_the_owner_is_redirected_to_a_signed_link_that_serves_the_bytes(
    api_client: APIClient, page: File, method: str, fake_storage: FakeStorageServer
) -> None:
    redirect = getattr(api_client, method)(f"/api/v1/files/{page.id}/content")

    assert redirect.status_code == 302
    assert redirect["Location"].startswith(f"{ORIGIN}/content/")
    assert redirect["Cache-Control"] == "no-store"
    assert fake_storage.storage.reads == []
    served = on_usercontent(Client(), redirect["Location"], method)
    assert served.status_code == 200
    assert body(served) == (PAGE if method == "get" else b"")
    assert headers_of(served) == CONTENT_HEADERS


@pytest.mark.usefixtures("usercontent")
def test_a_derivative_redirects_to_its_own_link(api_client: APIClient, page: File) -> None:
    redirect = api_client.get(f"/api/v1/files/{page.id}/derivatives/thumbnail-256")

    served = on_usercontent(Client(), redirect["Location"])

    assert redirect.status_code == 302
    assert (served.status_code, body(served)) == (200, THUMBNAIL)
    assert (served["Content-Type"], served["Content-Disposition"]) == (
        "image/webp",
        'attachment; filename="page-thumbnail-256.webp"',
    )


@pytest.mark.usefixtures("usercontent")
def test_another_users_file_is_404_without_a_link(
    api_client: APIClient, other_user: User, fake_storage: FakeStorageServer
) -> None:
    theirs = file_make(owner=other_user)

    for path in (f"/api/v1/files/{theirs.id}/content", f"/api/v1/files/{theirs.id}/derivatives/x"):
        response = api_client.get(path)
        assert (response.status_code, response.json()) == (
            404,
            error("not_found", "No such file."),
        )
        assert not response.has_header("Location")


@pytest.mark.usefixtures("usercontent")
def test_anonymous_callers_get_401_without_a_link(page: File) -> None:
    response = APIClient().get(f"/api/v1/files/{page.id}/content")

    assert response.status_code == 401
    assert not response.has_header("Location")


@pytest.mark.usefixtures("usercontent")
def test_a_file_not_stored_yet_is_409_rather_than_a_link(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    waiting = file_make(owner=user, state="awaiting_upload")

    response = api_client.get(f"/api/v1/files/{waiting.id}/content")

    assert (response.status_code, response.json()) == (
        409,
        error("not_stored", "The file's bytes are not stored yet."),
    )


# --- the links the API hands out -------------------------------------------------------


@pytest.mark.usefixtures("usercontent")
def test_the_api_hands_out_signed_links_that_need_no_credentials(
    api_client: APIClient, page: File
) -> None:
    resource = api_client.get(f"/api/v1/files/{page.id}/").json()

    content = on_usercontent(Client(), resource["content_url"])
    thumbnail = on_usercontent(Client(), resource["derivatives"][0]["url"])

    assert resource["content_url"] == usercontent_link(file=page)
    assert resource["derivatives"][0]["url"] == usercontent_link(file=page, kind="thumbnail-256")
    assert (content.status_code, body(content)) == (200, PAGE)
    assert (thumbnail.status_code, body(thumbnail)) == (200, THUMBNAIL)


def test_without_a_user_content_origin_the_api_hands_out_the_sites_endpoints(
    api_client: APIClient, page: File
) -> None:
    resource = api_client.get(f"/api/v1/files/{page.id}/").json()
    content = api_client.get(f"/api/v1/files/{page.id}/content")

    assert resource["content_url"] == f"http://testserver/api/v1/files/{page.id}/content"
    assert resource["derivatives"][0]["url"] == (
        f"http://testserver/api/v1/files/{page.id}/derivatives/thumbnail-256"
    )
    assert (content.status_code, body(content)) == (200, PAGE)
    assert content["Cross-Origin-Resource-Policy"] == "same-origin"


# --- the user-content host: ranges, validators, refusals -------------------------------


@pytest.mark.usefixtures("usercontent")
def test_ranges_and_etags_work_on_the_user_content_host(
    page: File, fake_storage: FakeStorageServer
) -> None:
    link = usercontent_link(file=page)

    part = on_usercontent(Client(), link, HTTP_RANGE="bytes=6-11")
    cached = on_usercontent(Client(), link, HTTP_IF_NONE_MATCH=f'"{SHA}"')
    outside = on_usercontent(Client(), link, HTTP_RANGE="bytes=9999-")

    assert (part.status_code, body(part), part["Content-Range"]) == (
        206,
        PAGE[6:12],
        f"bytes 6-11/{len(PAGE)}",
    )
    assert (cached.status_code, cached.content, cached["ETag"]) == (304, b"", f'"{SHA}"')
    assert (outside.status_code, outside["Content-Range"]) == (416, f"bytes */{len(PAGE)}")
    assert outside.json() == error(
        "range_not_satisfiable",
        f"The requested range is outside the content, which has {len(PAGE)} bytes.",
    )
    assert fake_storage.storage.reads == [(SHA, 6, 6)]


@pytest.mark.usefixtures("usercontent")
def test_a_tampered_link_is_403_and_nothing_is_read(
    page: File, other_user: User, fake_storage: FakeStorageServer
) -> None:
    link = usercontent_link(file=page)
    theirs = file_make(owner=other_user)
    payload_of_theirs = usercontent_link(file=theirs).rsplit("/", 1)[1].split(":")[0]
    signature = link.rsplit(":", 1)[1]

    for token in (link.rsplit("/", 1)[1] + "x", f"{payload_of_theirs}:{signature}", "nonsense"):
        response = on_usercontent(Client(), f"{ORIGIN}/content/{token}")
        assert (response.status_code, response.json()) == (
            403,
            error("invalid_link", "This link is not valid."),
        )
        assert response["Cache-Control"] == "no-store"
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert fake_storage.storage.reads == []


@pytest.mark.usefixtures("usercontent")
def test_an_expired_link_is_410_and_nothing_is_read(
    page: File, fake_storage: FakeStorageServer
) -> None:
    link = usercontent_link(file=page, now=time.time() - 3600)

    response = on_usercontent(Client(), link)

    assert (response.status_code, response.json()) == (
        410,
        error("link_expired", "This link has expired; open the file again for a fresh one."),
    )
    assert fake_storage.storage.reads == []


@pytest.mark.usefixtures("usercontent")
def test_links_live_as_long_as_configured(page: File, usp_settings: Any) -> None:
    usp_settings(usercontent_link_seconds=60)
    issued_at = time.time() - 100

    response = on_usercontent(Client(), usercontent_link(file=page, now=issued_at))
    usp_settings(usercontent_link_seconds=300)
    longer = on_usercontent(Client(), usercontent_link(file=page, now=issued_at))

    assert (response.status_code, longer.status_code) == (410, 200)


@pytest.mark.usefixtures("usercontent")
def test_a_link_to_a_deleted_file_or_one_that_changed_hands_is_404(
    page: File, other_user: User, fake_storage: FakeStorageServer
) -> None:
    link = usercontent_link(file=page)
    File.objects.filter(pk=page.pk).update(owner=other_user)
    moved = on_usercontent(Client(), link)
    File.objects.filter(pk=page.pk).delete()
    deleted = on_usercontent(Client(), link)

    for response in (moved, deleted):
        assert (response.status_code, response.json()) == (404, error("not_found", "No such file."))
    assert fake_storage.storage.reads == []


@pytest.mark.usefixtures("usercontent")
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_links_only_answer_get_and_head(page: File, method: str) -> None:
    response = on_usercontent(Client(), usercontent_link(file=page), method)

    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")
    assert response.json() == error(
        "method_not_allowed", "Links here can only be read (GET or HEAD)."
    )


# --- the user-content host is nothing else -----------------------------------------------


@pytest.mark.usefixtures("usercontent")
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/admin/",
        "/admin/login/",
        "/accounts/login/",
        "/upload/",
        "/files/",
        "/healthz",
        "/api/v1/",
        "/api/v1/files/",
        "/api/schema/",
        "/static/pages/site.css",
        "/content/",
        "/content/a/b",
    ],
)
def test_on_the_user_content_host_everything_but_links_is_404_without_cookies(
    user: User, page: File, path: str
) -> None:
    client = Client()
    client.force_login(user)  # a session cookie the host must ignore

    for method in ("get", "post"):
        response = getattr(client, method)(path, HTTP_HOST=HOST, secure=True)
        assert (response.status_code, response.json()) == (
            404,
            error("not_found", "There is nothing at this address."),
        )
        assert response.cookies == {}
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.usefixtures("usercontent")
def test_the_sites_own_content_endpoint_is_404_on_the_user_content_host(
    api_client: APIClient, page: File
) -> None:
    response = api_client.get(f"/api/v1/files/{page.id}/content", HTTP_HOST=HOST, secure=True)

    assert response.status_code == 404


@pytest.mark.usefixtures("usercontent")
def test_a_link_sets_no_cookie_even_for_a_signed_in_browser(user: User, page: File) -> None:
    client = Client()
    client.force_login(user)

    response = on_usercontent(client, usercontent_link(file=page))

    assert (response.status_code, body(response)) == (200, PAGE)
    assert response.cookies == {}
    assert not response.has_header("Vary")


@pytest.mark.usefixtures("usercontent")
def test_links_are_404_on_the_sites_host(user: User, page: File) -> None:
    client = Client()
    client.force_login(user)
    path = urlsplit(usercontent_link(file=page)).path

    response = client.get(path)

    assert response.status_code == 404
    assert PAGE not in response.content


def test_without_a_user_content_origin_no_host_serves_links(
    user: User, page: File, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    token = "x:y"

    for host in ("testserver", HOST):
        response = Client().get(f"/content/{token}", HTTP_HOST=host)
        assert response.status_code == 404
    assert usercontent_link(file=page) == ""
