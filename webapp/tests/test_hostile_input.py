"""Hostile input, all in one place: each refusal is a precise 4xx with the project's error
body, shows nothing internal, and stores or changes nothing (rows, quota, stored objects).

The real storage service runs behind the webapp, so bytes cross the real data plane and
its refusals come back to the catalog as the consumer would apply them. More cases live
beside the code they exercise: name sanitizing (webapp/files/tests/test_names.py), the
data plane's own refusals, unsigned locations among them
(storage_service/tests/test_tus_refusals.py), another user's ids, keys and signatures
(tests/isolation/), intent validation (webapp/files/tests/test_intents.py), and the
property-based run over the whole schema (webapp/tests/test_api_schema_conformance.py).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from tests.waiting import wait_for
from usp import events
from webapp.accounts.models import ApiToken, Usage, User
from webapp.accounts.tests.factories import token_make, user_make
from webapp.apigrpc.serving import start_web
from webapp.files.events import event_apply
from webapp.files.models import File, FileState, Job, UploadIntent
from webapp.tests.conftest import RealStorage

pytestmark = pytest.mark.django_db

UPLOADS = "/api/v1/uploads/"
FILES = "/api/v1/files/"
# What an error body must never show: tracebacks, source files, settings, object reprs.
INTERNALS = ("Traceback", 'File "', ".py", "settings.", "DATA_UPLOAD", " object at 0x")


# --- what must not change ----------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """Everything a refused request must leave as it was."""

    files: list[tuple[str, str]]
    jobs: int
    intents: int
    tokens: int
    usage: list[tuple[int, int, int]]
    objects: list[Path]
    partials: list[tuple[str, int]]


def state(storage: RealStorage) -> State:
    return State(
        files=sorted((str(f.id), f.state) for f in File.objects.all()),
        jobs=Job.objects.count(),
        intents=UploadIntent.objects.count(),
        tokens=ApiToken.objects.count(),
        # What is counted: a user's row of counters may have come into being at zero (a
        # streamed form reserves before the rest of it is read, then releases).
        usage=sorted(
            Usage.objects.exclude(bytes_used=0, files_used=0).values_list(
                "user_id", "bytes_used", "files_used"
            )
        ),
        objects=storage.objects(),
        partials=storage.partials(),
    )


def assert_refused(response: Any, status: int, error: dict[str, Any]) -> None:
    """`status` with exactly `{"error": error}`, as JSON, naming nothing internal."""
    text = response.content.decode()
    assert (response.status_code, response["Content-Type"]) == (status, "application/json")
    assert json.loads(text) == {"error": error}
    assert [marker for marker in INTERNALS if marker in text] == []


def invalid(fields: dict[str, list[str]]) -> dict[str, Any]:
    """The body of a 400 naming invalid fields, as the exception handler writes it."""
    first = "; ".join(f"{name}: {errors[0]}" for name, errors in fields.items())
    return {"code": "invalid_input", "message": f"Invalid input. {first}", "fields": fields}


@pytest.fixture
def refused(real_storage: RealStorage) -> Callable[[Callable[[], Any], int, dict[str, Any]], None]:
    """Sends a request and checks it is refused with `status` and `error` and that the
    state before it is the state after it."""

    def check(send: Callable[[], Any], status: int, error: dict[str, Any]) -> None:
        before = state(real_storage)
        assert_refused(send(), status, error)
        assert state(real_storage) == before

    return check


def post_json(client: Client | APIClient, path: str, body: Any, **headers: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic("POST", path, raw, content_type="application/json", **headers)


# --- hostile names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("", {"name": ["This field may not be blank."]}),
        ("x" * 5001, {"name": ["Ensure this field has no more than 5000 characters."]}),
        (0, {"name": ["Not a valid string."]}),
        (["a.txt"], {"name": ["Not a valid string."]}),
        (None, {"name": ["This field may not be null."]}),
    ],
    ids=["empty", "5001 characters", "a number", "a list", "null"],
)
def test_an_intent_without_a_usable_name_is_400(
    api_client: APIClient, refused: Callable[..., None], name: Any, fields: dict[str, list[str]]
) -> None:
    refused(
        partial(post_json, api_client, UPLOADS, {"name": name, "size": 1}), 400, invalid(fields)
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "This field may not be blank."),
        ("\x85\u3000\x1c", "This field may not be blank."),
        ("ci\x00token", "Null characters are not allowed."),
        (7, "Not a valid string."),
        ("t" * 101, "Ensure this field has no more than 100 characters."),
        ("\x0b" + "t" * 100, "Ensure this field has no more than 100 characters."),
    ],
    ids=["spaces", "unicode spaces", "nul", "a number", "101 characters", "101 with a space"],
)
def test_a_token_without_a_usable_name_is_400(
    api_client: APIClient, refused: Callable[..., None], name: Any, message: str
) -> None:
    error = {
        "code": "invalid_input",
        "message": "The token request is not valid.",
        "fields": {"name": [message]},
    }

    refused(partial(post_json, api_client, "/api/v1/tokens/", {"name": name}), 400, error)


NOT_STEPS = "A list of step names or a comma-separated string."


@pytest.mark.parametrize(
    ("pipeline", "error"),
    [
        ([""], invalid({"pipeline": [NOT_STEPS]})),
        ([" metadata"], invalid({"pipeline": [NOT_STEPS]})),
        (["metadata", "checksum\t"], invalid({"pipeline": [NOT_STEPS]})),
        ([None], invalid({"pipeline": [NOT_STEPS]})),
        (["checksum"] * 17, {"code": "invalid_pipeline", "message": "At most 16 steps."}),
    ],
    ids=["a blank step", "a padded step", "a tab after a step", "null", "17 steps"],
)
def test_an_intent_whose_pipeline_names_no_steps_exactly_is_400(
    api_client: APIClient, refused: Callable[..., None], pipeline: Any, error: dict[str, Any]
) -> None:
    body = {"name": "a.txt", "size": 1, "pipeline": pipeline}

    refused(partial(post_json, api_client, UPLOADS, body), 400, error)


def multipart_with_file_named(filename: str, data: bytes = b"bytes") -> tuple[bytes, str]:
    """A form whose part "file" is sent under `filename` exactly, as any client could send
    it (Django's test client would keep only the name's last path component)."""
    boundary = "hostile-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("filename", ["", ".", "..", "../..", "/", "\x00", "\x01\x02"], ids=repr)
def test_a_multipart_file_without_a_usable_name_is_400_file_required(
    api_client: APIClient, refused: Callable[..., None], filename: str
) -> None:
    # Django's multipart parser drops a file part whose name has nothing left once
    # directories and unprintable characters are removed: there is no file.
    body, content_type = multipart_with_file_named(filename)
    error = {
        "code": "file_required",
        "message": "Send the file as the multipart form field 'file'.",
    }

    send = partial(api_client.generic, "POST", FILES, body, content_type=content_type)
    refused(send, 400, error)


HOSTILE_NAMES = [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
    ("/absolute/path.txt", "path.txt"),
    ("bell\x07and\x1bescape\x7f.txt", "bellandescape.txt"),
    ("nul\x00byte.txt", "nulbyte.txt"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),
    ("...", "unnamed"),
    ("c" * 5000, "c" * 255),
]


def through_an_intent(client: APIClient, storage: RealStorage, name: str, data: bytes) -> str:
    """Announce the upload, send its bytes to the data plane; returns the file's id."""
    created = post_json(client, UPLOADS, {"name": name, "size": len(data)})
    assert created.status_code == 201, created.content
    stored = requests.put(created.json()["upload_url"], data=data, timeout=10)
    assert stored.status_code == 200, stored.content
    apply_event(storage, created.json()["file_id"], events.FILE_STORED)
    return str(created.json()["file_id"])


def through_multipart(client: APIClient, storage: RealStorage, name: str, data: bytes) -> str:
    body, content_type = multipart_with_file_named(name, data)
    created = client.generic("POST", FILES, body, content_type=content_type)
    assert created.status_code == 201, created.content
    return str(created.json()["id"])


# A multipart part's headers are limited to 1 KiB: the 5,000 characters are refused below.
UPLOADS_NAMED = [(through_an_intent, raw, expected) for raw, expected in HOSTILE_NAMES] + [
    (through_multipart, raw, expected) for raw, expected in HOSTILE_NAMES if len(raw) < 1000
]


@pytest.mark.parametrize(
    ("upload", "raw", "expected"),
    UPLOADS_NAMED,
    ids=lambda value: value.__name__ if callable(value) else repr(value)[:40],
)
def test_a_hostile_name_is_only_ever_a_display_name(
    api_client: APIClient,
    real_storage: RealStorage,
    tmp_path: Path,
    upload: Callable[[APIClient, RealStorage, str, bytes], str],
    raw: str,
    expected: str,
) -> None:
    data = b"the same bytes whatever the name"

    file = File.objects.get(pk=upload(api_client, real_storage, raw, data))

    # Stored, with its default pipeline dispatched (no processor runs here).
    assert (file.name, file.state) == (expected, FileState.PROCESSING)
    # Storage keeps bytes under their SHA-256 only: no name reaches a path.
    assert [path.name for path in real_storage.objects()] == [file.sha256]
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and real_storage.root not in p.parents]
    assert outside == []


def test_a_multipart_file_name_of_5000_characters_is_400_parse_error(
    api_client: APIClient, refused: Callable[..., None]
) -> None:
    body, content_type = multipart_with_file_named("c" * 5000)
    error = {
        "code": "parse_error",
        "message": "Multipart form parse error - Request max total header size exceeded.",
    }

    refused(partial(api_client.generic, "POST", FILES, body, content_type=content_type), 400, error)


def apply_event(storage: RealStorage, file_id: str, event_type: str) -> None:
    """Wait for storage to publish the file's event, then apply it as the consumer does."""
    (envelope,) = wait_for(lambda: storage.publisher.of(file_id, event_type), what=event_type)
    event_apply(envelope=envelope)


# --- hostile content ---------------------------------------------------------------------


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a photo")
    return buffer.getvalue()


SCRIPT = b"<script>alert(document.cookie)</script>"
POLYGLOT = png() + b"<html><body>" + SCRIPT + b"</body></html>"
HTML = b"<!doctype html><html><body>" + SCRIPT + b"</body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg">' + SCRIPT + b"</svg>"
ZIP = zip_archive()
# (name the upload claims, its bytes, a policy the name passes, the type storage sniffs)
HOSTILE_CONTENT = [
    ("page.html", POLYGLOT, ("text/*",), "image/png"),
    ("photo.png", HTML, ("image/*",), "text/plain"),
    ("icon.svg", SVG, ("image/*",), "text/plain"),
    ("photo.jpg", ZIP, ("image/*",), "application/zip"),
]
CONTENT_IDS = ["png+html polyglot", "html with script", "svg with script", "zip named .jpg"]


@pytest.mark.parametrize(("name", "data", "policy", "sniffed"), HOSTILE_CONTENT, ids=CONTENT_IDS)
def test_content_outside_the_type_policy_is_refused_by_its_sniffed_type_and_nothing_stays(
    api_client: APIClient,
    user: User,
    real_storage: RealStorage,
    usp_settings: Callable[..., None],
    name: str,
    data: bytes,
    policy: tuple[str, ...],
    sniffed: str,
) -> None:
    usp_settings(allowed_types=policy)
    created = post_json(api_client, UPLOADS, {"name": name, "size": len(data)})
    assert created.status_code == 201, created.content
    file_id = created.json()["file_id"]

    response = requests.put(created.json()["upload_url"], data=data, timeout=10)

    message = f"type {sniffed} is not allowed"
    assert response.status_code == 415
    assert response.json() == {"error": {"code": "type_not_allowed", "message": message}}
    apply_event(real_storage, file_id, events.UPLOAD_ENDED)
    file = File.objects.get(pk=file_id)
    assert (file.state, file.error) == (FileState.FAILED, f"{message} (type_not_allowed)")
    assert (real_storage.objects(), Job.objects.count()) == ([], 0)
    assert Usage.objects.get(user=user).bytes_used == 0


@pytest.mark.parametrize(("name", "data", "policy", "sniffed"), HOSTILE_CONTENT, ids=CONTENT_IDS)
def test_without_a_policy_hostile_content_is_stored_but_served_only_as_a_sandboxed_attachment(
    api_client: APIClient,
    real_storage: RealStorage,
    name: str,
    data: bytes,
    policy: tuple[str, ...],
    sniffed: str,
) -> None:
    created = post_json(api_client, UPLOADS, {"name": name, "size": len(data)})
    file_id = created.json()["file_id"]
    assert requests.put(created.json()["upload_url"], data=data, timeout=10).status_code == 200
    apply_event(real_storage, file_id, events.FILE_STORED)

    response = api_client.get(f"/api/v1/files/{file_id}/content")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    headers = {key: response[key] for key in DOWNLOAD_HEADERS}
    assert headers == {
        "Content-Type": sniffed,
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
    }


DOWNLOAD_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "X-Content-Type-Options",
    "Content-Security-Policy",
    "Cross-Origin-Resource-Policy",
)


# --- forged and replayed credentials -----------------------------------------------------

MALFORMED = {
    "code": "authentication_failed",
    "message": "Malformed Authorization header: send 'Token <key>'.",
}
NOT_VALID = {
    "code": "authentication_failed",
    "message": "The token is not valid, expired or revoked.",
}


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"), NOT_VALID),
        (lambda key: "Token usp_" + "x" * 40, NOT_VALID),
        (lambda key: "Token !@#$%^&*()", NOT_VALID),
        (lambda key: "Token \x00\x01\x02", NOT_VALID),
        (lambda key: "Token " + "a" * 100_000, NOT_VALID),
        (lambda key: "Token", MALFORMED),
        (lambda key: "Bearer    ", MALFORMED),
        (lambda key: key.replace(" ", " usp_ "), MALFORMED),
        (
            lambda key: "Token \xff\xfe",
            {"code": "authentication_failed", "message": "The token is not valid."},
        ),
        (
            lambda key: "Basic dXNlcjpwYXNz",
            {
                "code": "not_authenticated",
                "message": "Authentication credentials were not provided.",
            },
        ),
    ],
    ids=[
        "tampered key",
        "made-up key",
        "garbage",
        "control characters",
        "100,000 characters",
        "scheme alone",
        "bearer with spaces only",
        "a key with a space in it",
        "not utf-8",
        "another scheme",
    ],
)
def test_a_forged_credential_is_401_and_nothing_is_created(
    user: User,
    refused: Callable[..., None],
    header: Callable[[str], str],
    error: dict[str, str],
) -> None:
    client = Client(HTTP_AUTHORIZATION=header(f"Token {token_make(user)}"))

    refused(partial(post_json, client, UPLOADS, {"name": "a.txt", "size": 1}), 401, error)
    assert client.get("/api/v1/usage/")["WWW-Authenticate"] == "Token"


def test_the_token_of_a_deleted_user_is_401(refused: Callable[..., None]) -> None:
    gone = user_make(username="gone")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_make(gone)}")
    gone.delete()

    refused(partial(post_json, client, UPLOADS, {"name": "a.txt", "size": 1}), 401, NOT_VALID)


def test_spaces_between_the_scheme_and_the_key_are_allowed_as_http_allows(user: User) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer   {token_make(user)}")

    assert client.get("/api/v1/usage/").status_code == 200


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query)), **changes}
    return urlunsplit(parts._replace(query=urlencode(query)))


def other_key_signature(url: str) -> str:
    """The same claims signed with a key storage does not have."""
    from storage_service.settings import SigningKey
    from storage_service.signing import Signer, from_query, to_query

    parts = urlsplit(url)
    location = from_query(parts.path.rsplit("/", 1)[-1], dict(parse_qsl(parts.query)))
    forged = Signer([SigningKey("rotated-out", b"a secret storage never had")]).sign(
        location.claims
    )
    return urlunsplit(parts._replace(query=to_query(forged)))


NO_MATCH = "the upload location's signature does not match"


@pytest.mark.parametrize(
    ("forge", "message"),
    [
        (lambda url, owner: with_query(url, size="1000000"), NO_MATCH),
        (lambda url, owner: with_query(url, expires="4102444800"), NO_MATCH),
        (lambda url, owner: with_query(url, owner=owner), NO_MATCH),
        (
            lambda url, owner: other_key_signature(url),
            "the upload location is signed with an unknown key",
        ),
    ],
    ids=["size", "expiry", "owner", "another key id"],
)
def test_a_forged_upload_location_is_403_and_the_upload_stays_as_it_was(
    api_client: APIClient,
    real_storage: RealStorage,
    other_user: User,
    forge: Callable[[str, str], str],
    message: str,
) -> None:
    created = post_json(api_client, UPLOADS, {"name": "a.txt", "size": 5})
    forged = forge(created.json()["upload_url"], str(other_user.pk))
    before = state(real_storage)

    response = requests.put(forged, data=b"bytes", timeout=10)

    assert response.status_code == 403
    assert response.json() == {"error": {"code": "forbidden", "message": message}}
    assert state(real_storage) == before
    assert File.objects.get().state == FileState.AWAITING_UPLOAD


def test_a_replayed_finished_upload_location_is_404_and_changes_nothing(
    api_client: APIClient, real_storage: RealStorage
) -> None:
    created = post_json(api_client, UPLOADS, {"name": "a.txt", "size": 5})
    url = created.json()["upload_url"]
    assert requests.put(url, data=b"first", timeout=10).status_code == 200
    apply_event(real_storage, created.json()["file_id"], events.FILE_STORED)
    before = state(real_storage)

    replayed = requests.put(url, data=b"again", timeout=10)

    assert replayed.status_code == 404
    session_id = urlsplit(url).path.rsplit("/", 1)[-1]
    message = f"upload session {session_id} is completed"
    assert replayed.json() == {"error": {"code": "not_found", "message": message}}
    assert state(real_storage) == before


# --- oversized and malformed requests ----------------------------------------------------


def test_a_json_body_over_the_memory_limit_is_413(
    api_client: APIClient, refused: Callable[..., None], settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = {"name": "a.txt", "size": 1, "padding": "x" * 2048}
    error = {"code": "too_large", "message": "The request body is too large: at most 1024 bytes."}

    refused(partial(post_json, api_client, UPLOADS, body), 413, error)


@pytest.mark.django_db(transaction=True)
def test_headers_over_the_web_servers_limit_are_431_before_the_site_sees_them(
    user: User, real_storage: RealStorage
) -> None:
    headers = {"Authorization": f"Token {token_make(user)}"}
    intent = {"name": "a.txt", "size": 1}
    web = start_web(0)
    try:
        url = f"{web.url}{UPLOADS}"
        within = requests.post(url, json=intent, headers={**headers, "X-Pad": "x"}, timeout=10)
        before = state(real_storage)
        huge = {**headers, "X-Pad": "x" * 300_000}
        beyond = requests.post(url, json=intent, headers=huge, timeout=10)
    finally:
        web.stop(grace=1)

    assert within.status_code == 201, within.content
    # waitress refuses headers over its 256 KiB before any byte reaches Django.
    assert beyond.status_code == 431
    assert beyond.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert [marker for marker in INTERNALS if marker in beyond.text] == []
    assert state(real_storage) == before


def test_a_multipart_upload_over_the_size_limit_is_413(
    api_client: APIClient, refused: Callable[..., None], usp_settings: Callable[..., None]
) -> None:
    usp_settings(max_upload_size=10)
    upload = SimpleUploadedFile("big.bin", b"x" * 11)
    error = {
        "code": "too_large",
        "message": "The file is too large: 11 bytes; uploads may be at most 10 bytes.",
    }

    refused(partial(api_client.post, FILES, {"file": upload}, format="multipart"), 413, error)


def test_a_multipart_field_over_the_memory_limit_is_413(
    api_client: APIClient, refused: Callable[..., None], settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    form = {"file": SimpleUploadedFile("a.txt", b"x"), "pipeline": "checksum," * 200}
    error = {"code": "too_large", "message": "The request body is too large: at most 1024 bytes."}

    refused(partial(api_client.post, FILES, form, format="multipart"), 413, error)


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            {f"field{n}": "x" for n in range(1001)},
            {
                "code": "too_many_fields",
                "message": "The request has too many fields: at most 1000.",
            },
        ),
        (
            {f"file{n}": SimpleUploadedFile(f"{n}.txt", b"x") for n in range(101)},
            {"code": "too_many_files", "message": "The request has too many files: at most 100."},
        ),
    ],
    ids=["1,001 fields", "101 files"],
)
def test_a_multipart_form_with_too_many_parts_is_400(
    api_client: APIClient,
    refused: Callable[..., None],
    extra: dict[str, Any],
    error: dict[str, str],
) -> None:
    form = {"file": SimpleUploadedFile("a.txt", b"x"), **extra}

    refused(partial(api_client.post, FILES, form, format="multipart"), 400, error)


@pytest.mark.parametrize(
    ("path", "raw", "message"),
    [
        (
            UPLOADS,
            b"[" * 100_000 + b"]" * 100_000,
            "JSON parse error - the body is nested too deeply.",
        ),
        (
            "/api/v1/tokens/",
            b'{"name": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
            "JSON parse error - the body is nested too deeply.",
        ),
        (
            UPLOADS,
            b'{"name": "\xff\xfe.txt", "size": 1}',
            "JSON parse error - 'utf-8' codec can't decode byte 0xff in position 10: "
            "invalid start byte",
        ),
        (
            UPLOADS,
            b'{"name": "a.txt", "size": 1',
            "JSON parse error - Expecting ',' delimiter: line 1 column 28 (char 27)",
        ),
        (
            UPLOADS,
            b'{"name": "a.txt", "size": NaN}',
            "JSON parse error - Out of range float values are not JSON compliant: 'NaN'",
        ),
    ],
    ids=["nested 100,000 deep", "nested 5,000 deep", "invalid utf-8", "truncated", "NaN"],
)
def test_unreadable_json_is_400_parse_error(
    api_client: APIClient, refused: Callable[..., None], path: str, raw: bytes, message: str
) -> None:
    error = {"code": "parse_error", "message": message}

    refused(partial(post_json, api_client, path, raw), 400, error)


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        (UPLOADS, "text/plain", b'{"name": "a.txt", "size": 1}'),
        (UPLOADS, "application/x-www-form-urlencoded", b"name=a.txt&size=1"),
        (UPLOADS, "multipart/form-data; boundary=x", b"--x--\r\n"),
        (FILES, "application/json", b'{"file": "a.txt"}'),
        (FILES, "application/x-www-form-urlencoded", b"file=a.txt"),
        ("/api/v1/tokens/", "application/x-www-form-urlencoded", b"name=ci"),
        ("/api/v1/files/00000000-0000-4000-8000-000000000001/reprocess/", "text/xml", b"<a/>"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_body_of_a_type_the_operation_does_not_read_is_415(
    api_client: APIClient, refused: Callable[..., None], path: str, content_type: str, body: bytes
) -> None:
    error = {
        "code": "unsupported_media_type",
        "message": f'Unsupported media type "{content_type}" in request.',
    }

    refused(partial(api_client.generic, "POST", path, body, content_type=content_type), 415, error)


def test_a_multipart_form_without_a_boundary_is_400_parse_error(
    api_client: APIClient, refused: Callable[..., None]
) -> None:
    error = {
        "code": "parse_error",
        "message": "Multipart form parse error - Invalid boundary in multipart: None",
    }

    send = partial(api_client.generic, "POST", FILES, b"x", content_type="multipart/form-data")
    refused(send, 400, error)


@pytest.mark.parametrize(
    "key", ["k" * 256, "k" * 100_000, "tab\there", "nul\x00"], ids=["256", "100,000", "tab", "nul"]
)
def test_an_unusable_idempotency_key_is_400(
    api_client: APIClient, refused: Callable[..., None], key: str
) -> None:
    error = {
        "code": "invalid_idempotency_key",
        "message": "An Idempotency-Key is at most 255 printable characters.",
    }

    body = {"name": "a.txt", "size": 1}
    refused(partial(post_json, api_client, UPLOADS, body, HTTP_IDEMPOTENCY_KEY=key), 400, error)


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (-1, "Ensure this value is greater than or equal to 0."),
        ("abc", "A valid integer is required."),
        (1.5, "A valid integer is required."),
        (True, "A valid integer is required."),
        (None, "This field may not be null."),
        ([1], "A valid integer is required."),
    ],
    ids=repr,
)
def test_a_declared_size_that_is_not_a_size_is_400(
    api_client: APIClient, refused: Callable[..., None], size: Any, message: str
) -> None:
    body = {"name": "a.txt", "size": size}
    refused(partial(post_json, api_client, UPLOADS, body), 400, invalid({"size": [message]}))


@pytest.mark.parametrize("size", [2**63, 2**70, 10**400], ids=["2**63", "2**70", "10**400"])
def test_a_declared_size_past_any_limit_is_413(
    api_client: APIClient, refused: Callable[..., None], settings: Any, size: int
) -> None:
    limit = settings.USP.max_upload_size
    error = {
        "code": "too_large",
        "message": f"The file is too large: {size} bytes; uploads may be at most {limit} bytes.",
    }

    refused(partial(post_json, api_client, UPLOADS, {"name": "a.txt", "size": size}), 413, error)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[]", "Invalid data. Expected a dictionary, but got list."),
        (b'"a.txt"', "Invalid data. Expected a dictionary, but got str."),
        (b"null", "No data provided"),
    ],
    ids=["a list", "a string", "null"],
)
def test_a_json_body_that_is_not_an_object_is_400(
    api_client: APIClient, refused: Callable[..., None], raw: bytes, message: str
) -> None:
    refused(
        lambda: post_json(api_client, UPLOADS, raw), 400, invalid({"non_field_errors": [message]})
    )


# --- hostile query strings and headers ---------------------------------------------------


@pytest.mark.parametrize("page", ["", "last", "0", "-1", "1.0", "+1", " 1", "\u0661", "9" * 5000])
def test_a_list_page_that_is_not_a_page_number_is_404(
    api_client: APIClient, refused: Callable[..., None], page: str
) -> None:
    error = {"code": "not_found", "message": "Invalid page."}

    for path in (FILES, "/api/v1/jobs/"):
        refused(partial(api_client.get, path, {"page": page}), 404, error)


@pytest.mark.parametrize("job_state", ["", " failed", "FAILED", "failed\x00", "x" * 5000])
def test_a_job_state_filter_that_is_no_state_is_400(
    api_client: APIClient, refused: Callable[..., None], job_state: str
) -> None:
    error = {
        "code": "invalid_filter",
        "message": f"Unknown job state {job_state[:32]!r}.",
        "fields": {"state": ["One of: queued, running, succeeded, failed."]},
    }

    refused(partial(api_client.get, "/api/v1/jobs/", {"state": job_state}), 400, error)


DATA = b"0123456789" * 10
HUGE = "9" * 5000


@pytest.mark.parametrize(
    ("range_header", "status", "content_range"),
    [
        (f"bytes={HUGE}-", 416, "bytes */100"),
        (f"bytes=0-{HUGE}", 206, "bytes 0-99/100"),
        (f"bytes=-{HUGE}", 206, "bytes 0-99/100"),
        (f"bytes={'0' * 5000}7-8", 206, "bytes 7-8/100"),
    ],
    ids=["start past any end", "end past any end", "suffix past any start", "leading zeros"],
)
def test_a_range_with_thousands_of_digits_is_read_as_a_number(
    api_client: APIClient,
    real_storage: RealStorage,
    range_header: str,
    status: int,
    content_range: str,
) -> None:
    upload = SimpleUploadedFile("digits.txt", DATA)
    file_id = api_client.post(FILES, {"file": upload}, format="multipart").json()["id"]
    before = state(real_storage)

    response = api_client.get(f"/api/v1/files/{file_id}/content", HTTP_RANGE=range_header)

    assert (response.status_code, response["Content-Range"]) == (status, content_range)
    if status == 416:
        message = "The requested range is outside the content, which has 100 bytes."
        assert_refused(response, 416, {"code": "range_not_satisfiable", "message": message})
    else:
        start, end = map(int, content_range.split()[1].split("/")[0].split("-"))
        assert b"".join(response.streaming_content) == DATA[start : end + 1]
    assert state(real_storage) == before
