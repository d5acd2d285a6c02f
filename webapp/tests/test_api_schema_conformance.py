"""The REST API against its own OpenAPI schema, property-based (schemathesis).

Requests generated from the schema the site serves at /api/schema/ (valid and invalid
ones) go over HTTP to the whole site on a live server, authenticated with a real API
token of a user who owns a few files, with the real storage service behind it. Path
parameters often name those files, their job and derivative, so requests reach them
rather than only 404s. Every default check applies: no 5xx, only documented status
codes, content types and headers, response bodies that match their schema, valid
requests accepted and invalid ones refused.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings
from PIL import Image

from usp.storage_client import WriteResult
from webapp.accounts.models import ApiToken, User
from webapp.accounts.services import api_token_create, usage_reserve
from webapp.files.models import File, JobState
from webapp.files.services import file_mark_stored
from webapp.files.storage import get_storage_client
from webapp.files.tests.factories import derivative_make, job_make
from webapp.files.tests.in_process_storage import store_derivative
from webapp.tests.conftest import RealStorage

# Few examples, the same every run (deterministic: Hypothesis's derandomize): the module
# takes well under a minute, and a failure found once is found again. Hypothesis also
# draws values from constants in the project's modules it finds imported, so the whole
# suite may try other values than this module alone: reproduce a failure with its curl.
MAX_EXAMPLES = 25
TEXT_FILE = uuid.UUID("00000000-0000-4000-8000-000000000001")
IMAGE_FILE = uuid.UUID("00000000-0000-4000-8000-000000000002")
PENDING_FILE = uuid.UUID("00000000-0000-4000-8000-000000000003")
FAILED_JOB = uuid.UUID("00000000-0000-4000-8000-0000000000f1")
THUMBNAIL = "thumbnail-256"
# The token the requests may revoke; the one they authenticate with is another.
SPARE_TOKEN_ID = 4242

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        "checks": {
            "positive_data_acceptance": {
                # Besides the defaults, refusals a schema cannot express because they
                # depend on what is stored: a size over the limit or the quota (413), an
                # Idempotency-Key an earlier request used for another upload (422), a
                # range past the end of the content (416).
                "expected-statuses": [
                    *("2xx", "3xx", "401", "403", "404", "409"),
                    *("413", "416", "422"),
                ],
            }
        },
        "dictionaries": {
            "file_ids": {"values": [str(IMAGE_FILE), str(TEXT_FILE), str(PENDING_FILE)]},
            "job_ids": {"values": [str(FAILED_JOB)]},
            "kinds": {"values": [THUMBNAIL]},
            "token_ids": {"values": [SPARE_TOKEN_ID]},
        },
        "parameters": {
            "path.file_id": {"dictionary": "file_ids", "probability": 0.5},
            "path.job_id": {"dictionary": "job_ids", "probability": 0.5},
            "path.kind": {"dictionary": "kinds", "probability": 0.5},
            "path.token_id": {"dictionary": "token_ids", "probability": 0.5},
        },
    }
)


def served_schema() -> dict[str, Any]:
    """The OpenAPI schema as the site serves it."""
    # Loaded as the module is collected, before the test environment allows "testserver".
    client = Client(HTTP_HOST="127.0.0.1")
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content
    return dict(response.json())


# Requests go over HTTP (the requests transport): an application loaded in process is
# called through werkzeug's test client instead, which encodes an empty file part
# without the line break that ends it, so the upload would seem to carry no file.
schema = schemathesis.openapi.from_dict(served_schema(), config=CONFIG).exclude(
    # A live stream answers only when its lifetime (a minute) ends: nothing to check in
    # time. test_live.py covers it.
    path="/api/v1/files/{file_id}/events"
)


@schema.hook
def filter_body(context: schemathesis.HookContext, body: Any) -> bool:
    """A multipart form cannot send a list as one field: [] is no part at all (the field
    left out, which is valid) and ["a", "b"] two parts of one name. Such a body tests
    the form encoding rather than the API, so it is not sent."""
    operation = context.operation
    if operation is None or operation.label != "POST /api/v1/files/":
        return True
    return not (isinstance(body, dict) and isinstance(body.get("pipeline"), list))


@pytest.fixture
def owner_key(
    transactional_db: None,
    real_storage: RealStorage,
    user: User,
    usp_settings: Callable[..., None],
) -> str:
    """The API key of `user`, who also has a spare token, a stored text file with a
    failed job, a stored image with its thumbnail, and an upload awaiting its bytes."""
    # Hundreds of requests a minute from one user: no throttle may answer them.
    usp_settings(throttle_uploads=None, throttle_api=None)
    _token, key = api_token_create(user=user, name="schemathesis")
    spare, _spare_key = api_token_create(user=user, name="spare")
    ApiToken.objects.filter(pk=spare.pk).update(id=SPARE_TOKEN_ID)
    text = _stored(user, TEXT_FILE, "notes.txt", b"some words\n")
    job_make(file=text, step="text.stats", state=JobState.FAILED, id=FAILED_JOB, error="boom")
    image = _stored(user, IMAGE_FILE, "photo.png", _png(32, 24))
    thumbnail = _png(8, 6)
    store_derivative(
        get_storage_client(),
        original_sha256=image.sha256,
        file_id=str(IMAGE_FILE),
        kind=THUMBNAIL,
        data=thumbnail,
        job_id=str(uuid.uuid4()),
    )
    derivative_make(file=image, kind=THUMBNAIL, data=thumbnail, content_type="image/png")
    usage_reserve(user=user, size=100)
    File.objects.create(id=PENDING_FILE, owner=user, name="later.bin", charged_bytes=100)
    return key


def _stored(user: User, file_id: uuid.UUID, name: str, data: bytes) -> File:
    File.objects.create(id=file_id, owner=user, name=name)
    result = _write(file_id, data, name=name)
    return file_mark_stored(file_id=file_id, stored=result.object, jobs=result.jobs)


def _write(file_id: uuid.UUID, data: bytes, **fields: str) -> WriteResult:
    return get_storage_client().write_object(
        [data], file_id=str(file_id), declared_size=len(data), **fields
    )


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@schema.parametrize()
# One owner and one storage per operation, shared by its examples: what one example
# changes (a file deleted, a token revoked) the next may meet, as a real client would.
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_schema(case: schemathesis.Case, owner_key: str, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Token {owner_key}"})
