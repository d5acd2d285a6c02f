from __future__ import annotations

import hashlib
from typing import Any

import pytest
from rest_framework.test import APIClient

from webapp.accounts.models import User
from webapp.files.models import File
from webapp.files.tests.factories import derivative_make, file_make
from webapp.files.tests.fake_storage import FakeStorageServer

pytestmark = pytest.mark.django_db

DATA = bytes(range(256)) * 1000  # 256,000 bytes: several storage chunks
SHA = hashlib.sha256(DATA).hexdigest()
ETAG = f'"{SHA}"'
SAFE = {
    "ETag": ETAG,
    "Accept-Ranges": "bytes",
    "Cache-Control": "private, no-cache",
    "Content-Disposition": 'attachment; filename="data.bin"',
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@pytest.fixture
def stored(user: User, fake_storage: FakeStorageServer) -> File:
    fake_storage.storage.blobs[SHA] = DATA
    return file_make(
        owner=user, name="data.bin", data=DATA, content_type="application/octet-stream"
    )


def get(client: APIClient, file: File, **headers: str) -> Any:
    return client.get(f"/api/v1/files/{file.id}/content", **headers)


def headers_of(response: Any, *extra: str) -> dict[str, str]:
    names = (*SAFE, "Content-Type", "Content-Length", *extra)
    return {name: response[name] for name in names if response.has_header(name)}


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_whole_content_says_it_accepts_ranges_and_carries_its_etag(
    api_client: APIClient, stored: File, fake_storage: FakeStorageServer
) -> None:
    response = get(api_client, stored)

    assert response.status_code == 200
    assert body(response) == DATA
    assert fake_storage.storage.reads == [(SHA, 0, 0)]
    assert headers_of(response, "Content-Range") == {
        **SAFE,
        "Content-Type": "application/octet-stream",
        "Content-Length": str(len(DATA)),
    }


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100000-165535", 100_000, 165_535),
        ("bytes=255990-", 255_990, 255_999),
        ("bytes=255990-999999999", 255_990, 255_999),
        ("bytes=-10", 255_990, 255_999),
        ("bytes=-999999", 0, 255_999),
        ("Bytes = 5-5", 5, 5),
    ],
)
def test_a_single_range_is_206_with_exactly_those_bytes(
    api_client: APIClient,
    stored: File,
    fake_storage: FakeStorageServer,
    header: str,
    start: int,
    end: int,
) -> None:
    response = get(api_client, stored, HTTP_RANGE=header)

    assert response.status_code == 206
    assert body(response) == DATA[start : end + 1]
    assert fake_storage.storage.reads == [(SHA, start, end - start + 1)]
    assert headers_of(response, "Content-Range") == {
        **SAFE,
        "Content-Type": "application/octet-stream",
        "Content-Length": str(end - start + 1),
        "Content-Range": f"bytes {start}-{end}/{len(DATA)}",
    }


@pytest.mark.parametrize("header", ["bytes=256000-", "bytes=300000-300001", "bytes=-0"])
def test_a_range_outside_the_content_is_416_with_its_size(
    api_client: APIClient, stored: File, header: str
) -> None:
    response = get(api_client, stored, HTTP_RANGE=header)

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"
    assert response.json() == {
        "error": {
            "code": "range_not_satisfiable",
            "message": "The requested range is outside the content, which has 256000 bytes.",
        }
    }


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "bytes=9-3", "items=0-5", "bytes=abc", "bytes=", "bytes=-"]
)
def test_several_or_malformed_ranges_get_the_whole_content(
    api_client: APIClient, stored: File, header: str
) -> None:
    response = get(api_client, stored, HTTP_RANGE=header)

    assert response.status_code == 200
    assert body(response) == DATA


@pytest.mark.parametrize("header", [ETAG, f"W/{ETAG}", f'"other", {ETAG}', "*"])
def test_if_none_match_with_the_current_etag_is_304_without_a_body(
    api_client: APIClient, stored: File, header: str
) -> None:
    response = get(api_client, stored, HTTP_IF_NONE_MATCH=header)

    assert response.status_code == 304
    assert response.content == b""
    assert (response["ETag"], response["Cache-Control"]) == (ETAG, "private, no-cache")


def test_if_none_match_with_another_etag_sends_the_content(
    api_client: APIClient, stored: File
) -> None:
    response = get(api_client, stored, HTTP_IF_NONE_MATCH='"' + "0" * 64 + '"')

    assert response.status_code == 200
    assert body(response) == DATA


def test_a_range_with_a_matching_if_range_is_206(api_client: APIClient, stored: File) -> None:
    response = get(api_client, stored, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=ETAG)

    assert (response.status_code, body(response)) == (206, DATA[:10])


@pytest.mark.parametrize("if_range", ['"stale"', f"W/{ETAG}", "Tue, 24 Nov 2026 08:00:00 GMT"])
def test_a_range_with_a_stale_if_range_gets_the_whole_content(
    api_client: APIClient, stored: File, if_range: str
) -> None:
    response = get(api_client, stored, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=if_range)

    assert (response.status_code, body(response)) == (200, DATA)


def test_head_sends_the_headers_and_no_body_without_reading_storage(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    # Nothing in the fake storage: a read would fail with 404.
    file = file_make(owner=user, name="data.bin", data=DATA, content_type="text/plain")

    whole = api_client.head(f"/api/v1/files/{file.id}/content")
    part = api_client.head(f"/api/v1/files/{file.id}/content", HTTP_RANGE="bytes=10-19")

    assert (whole.status_code, whole.content) == (200, b"")
    assert headers_of(whole) == {
        **SAFE,
        "Content-Type": "text/plain",
        "Content-Length": str(len(DATA)),
    }
    assert (part.status_code, part.content) == (206, b"")
    assert (part["Content-Range"], part["Content-Length"]) == (f"bytes 10-19/{len(DATA)}", "10")
    assert fake_storage.storage.reads == []


def test_head_of_another_users_file_is_404(
    api_client: APIClient, other_user: User, fake_storage: FakeStorageServer
) -> None:
    theirs = file_make(owner=other_user)

    assert api_client.head(f"/api/v1/files/{theirs.id}/content").status_code == 404


def test_derivatives_support_ranges_and_etags(
    api_client: APIClient, stored: File, fake_storage: FakeStorageServer
) -> None:
    thumbnail = b"RIFF....WEBPVP8 " * 10
    thumb_sha = hashlib.sha256(thumbnail).hexdigest()
    fake_storage.storage.blobs[thumb_sha] = thumbnail
    derivative_make(file=stored, kind="thumbnail-256", data=thumbnail)
    url = f"/api/v1/files/{stored.id}/derivatives/thumbnail-256"

    part = api_client.get(url, HTTP_RANGE="bytes=-16")
    cached = api_client.get(url, HTTP_IF_NONE_MATCH=f'"{thumb_sha}"')

    assert (part.status_code, body(part)) == (206, thumbnail[-16:])
    assert (part["Content-Range"], part["ETag"], part["Content-Disposition"]) == (
        f"bytes 144-159/{len(thumbnail)}",
        f'"{thumb_sha}"',
        'attachment; filename="data-thumbnail-256.webp"',
    )
    assert cached.status_code == 304


def test_empty_content_downloads_as_zero_bytes_and_refuses_any_range(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    empty_sha = hashlib.sha256(b"").hexdigest()
    fake_storage.storage.blobs[empty_sha] = b""
    file = file_make(owner=user, name="empty.txt", data=b"")

    whole = api_client.get(f"/api/v1/files/{file.id}/content")
    ranged = api_client.get(f"/api/v1/files/{file.id}/content", HTTP_RANGE="bytes=0-")

    assert (whole.status_code, body(whole), whole["Content-Length"]) == (200, b"", "0")
    assert (ranged.status_code, ranged["Content-Range"]) == (416, "bytes */0")
