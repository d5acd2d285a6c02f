from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from usp.storage_client import StoredObject
from webapp.files.models import File
from webapp.files.policy import claimed_type, file_name_sanitize, type_matches
from webapp.files.services import file_mark_stored
from webapp.files.tests.fake_storage import FakeStorageServer

LONG_STEM = "a" * 4996
HOSTILE_NAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
    ("uploads/../../../secret.txt", "secret.txt"),
    ("..", "unnamed"),
    ("../..", "unnamed"),
    ("...", "unnamed"),
    ("dir/", "unnamed"),
    ("bell\x07and\x1bescape.txt", "bellandescape.txt"),
    ("nul\x00byte.txt", "nulbyte.txt"),
    ("tab\tnew\nline\r\n.txt", "tab new line .txt"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),
    ("\u202a\u202b\u202c\u202d x \u2066\u2067\u2068\u2069.txt", "x .txt"),
    ("zero\u200bwidth.txt", "zerowidth.txt"),
    ("line\u2028separator.txt", "line separator.txt"),
    (LONG_STEM + ".txt", "a" * 251 + ".txt"),
    ("b" * 5000, "b" * 255),
    ("x." + "c" * 4998, "x." + "c" * 253),
    ('r\u00e9sum\u00e9 "final".pdf', 'r\u00e9sum\u00e9 "final".pdf'),
    ("  spaced   out  .txt ", "spaced out .txt"),
    ("e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"),
]


@pytest.mark.parametrize(("raw", "expected"), HOSTILE_NAMES)
def test_file_name_sanitize(raw: str, expected: str) -> None:
    assert file_name_sanitize(raw) == expected


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("photo.PNG", "image/png"),
        ("scan.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
        ("no-extension", "application/octet-stream"),
        ("archive.unknownext", "application/octet-stream"),
    ],
)
def test_claimed_type_comes_from_the_extension(name: str, content_type: str) -> None:
    assert claimed_type(name) == content_type


@pytest.mark.parametrize(
    ("content_type", "patterns", "allowed"),
    [
        ("image/png", (), True),
        ("image/png", ("image/*",), True),
        ("IMAGE/PNG", ("image/png",), True),
        ("image/png", ("*/*",), True),
        ("text/plain; charset=utf-8", ("text/plain",), True),
        ("text/plain", ("image/*", "application/pdf"), False),
        ("imagex/png", ("image/*",), False),
    ],
)
def test_type_matches(content_type: str, patterns: tuple[str, ...], allowed: bool) -> None:
    assert type_matches(content_type, patterns) is allowed


def disposition_name(header: str) -> str:
    """The file name a client reads from a Content-Disposition header."""
    extended = re.fullmatch(
        r"attachment; filename\*=utf-8''([A-Za-z0-9%._~!$&'()*+,;=:@-]*)", header
    )
    if extended:
        return unquote(extended.group(1))
    quoted = re.fullmatch(r'attachment; filename="((?:[^"\\]|\\.)*)"', header)
    assert quoted, header
    return re.sub(r"\\(.)", r"\1", quoted.group(1))


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "expected"), HOSTILE_NAMES)
def test_hostile_names_are_accepted_stored_by_id_and_downloaded_under_a_safe_name(
    api_client: APIClient, fake_storage: FakeStorageServer, raw: str, expected: str
) -> None:
    data = b"same bytes for every name"
    created = api_client.post("/api/v1/uploads/", {"name": raw, "size": len(data)}, format="json")
    assert created.status_code == 201, created.content
    file_id = created.json()["file_id"]
    fake_storage.storage.blobs[hashlib.sha256(data).hexdigest()] = data
    file_mark_stored(
        file_id=file_id,
        stored=StoredObject(hashlib.sha256(data).hexdigest(), len(data), "text/plain"),
        jobs=[],
    )

    response = api_client.get(f"/api/v1/files/{file_id}/content")

    header = response["Content-Disposition"]
    assert (created.json()["file"]["name"], File.objects.get(pk=file_id).name) == (
        expected,
        expected,
    )
    assert fake_storage.storage.session_requests[0].name == expected
    assert b"".join(response.streaming_content) == data
    assert header.isascii() and header.isprintable()
    assert disposition_name(header) == expected


@pytest.mark.django_db
def test_a_non_ascii_name_with_quotes_uses_filename_star(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = api_client.post(
        "/api/v1/files/",
        {"file": SimpleUploadedFile('na\u00efve "quoted" \u6587\u4ef6.txt', b"x")},
        format="multipart",
    )
    file_id = response.json()["id"]

    download = api_client.get(f"/api/v1/files/{file_id}/content")

    assert download["Content-Disposition"] == (
        "attachment; filename*=utf-8''na%C3%AFve%20%22quoted%22%20%E6%96%87%E4%BB%B6.txt"
    )


@pytest.mark.django_db
def test_an_ascii_name_with_quotes_is_escaped_in_filename(
    api_client: APIClient, fake_storage: FakeStorageServer
) -> None:
    response = api_client.post(
        "/api/v1/files/",
        {"file": SimpleUploadedFile('say "hi".txt', b"x")},
        format="multipart",
    )

    download = api_client.get(f"/api/v1/files/{response.json()['id']}/content")

    assert download["Content-Disposition"] == 'attachment; filename="say \\"hi\\".txt"'


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a/b/../c.txt", "c.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        (LONG_STEM + ".txt", "a" * 251 + ".txt"),
    ],
)
def test_multipart_uploads_sanitize_names_too(
    api_client: APIClient, fake_storage: FakeStorageServer, raw: str, expected: str
) -> None:
    response = api_client.post(
        "/api/v1/files/", {"file": SimpleUploadedFile(raw, b"x")}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert response.json()["name"] == expected
    assert fake_storage.storage.headers[0].name == expected
