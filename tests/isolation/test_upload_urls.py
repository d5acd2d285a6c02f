"""Isolation on the storage data plane: an upload URL is good for its own session only.

The owner and another user each announce an upload through the webapp, which asks the
real storage service (in this process, on free ports) for a signed location. Every way
of pointing the other user's signature, or none, at the owner's session is refused for
each tus method exactly as it is for a session that does not exist (nothing tells the
other user the owner's session is there), and the owner's upload goes on untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from rest_framework.test import APIClient

from tests.isolation.conftest import OTHER, OWNER, World, world_make
from webapp.files.models import File, FileState
from webapp.files.tests.in_process_storage import storage_in_process

pytestmark = pytest.mark.django_db(transaction=True)

DATA = b"the owner's upload, sent straight to storage\n"
TIMEOUT = 10


@dataclasses.dataclass(frozen=True)
class Location:
    """A signed upload URL taken apart: its base, session id and signed query."""

    base: str
    session_id: str
    query: dict[str, str]

    @classmethod
    def parse(cls, url: str) -> Location:
        parts = urlsplit(url)
        base, _, session_id = parts.path.rpartition("/")
        origin = f"{parts.scheme}://{parts.netloc}{base}/"
        return cls(origin, session_id, dict(parse_qsl(parts.query)))

    def url(self, *, session_id: str | None = None, **query: str | None) -> str:
        fields = {**self.query, **query}
        signed = urlencode({k: v for k, v in fields.items() if v is not None})
        return f"{self.base}{session_id or self.session_id}?{signed}"


@pytest.fixture
def storage(settings: Any, tmp_path: Path) -> Iterator[Any]:
    """The real storage service on free ports; settings.USP points the webapp at it."""
    with storage_in_process(settings, tmp_path / "storage") as server:
        yield server


@dataclasses.dataclass(frozen=True)
class Uploads:
    """The world, and the owner's and the other user's signed upload locations."""

    world: World
    mine: Location
    theirs: Location


@pytest.fixture
def uploads(transactional_db: None, storage: Any) -> Uploads:
    world = world_make()
    return Uploads(world, intent(world, OWNER, "mine.txt"), intent(world, OTHER, "theirs.txt"))


def intent(world: World, actor: str, name: str) -> Location:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.keys[actor]}")
    body = {"name": name, "size": len(DATA), "sha256": hashlib.sha256(DATA).hexdigest()}
    response = client.post("/api/v1/uploads/", body, format="json")
    assert response.status_code == 201, response.content
    return Location.parse(response.json()["upload_url"])


TUS = {"Tus-Resumable": "1.0.0"}
# Each tus request that names a session, as an attacker would send it.
REQUESTS: dict[str, Callable[[str], requests.Response]] = {
    "HEAD": lambda url: requests.head(url, headers=TUS, timeout=TIMEOUT),
    "PATCH": lambda url: requests.patch(
        url,
        data=b"evil",
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        timeout=TIMEOUT,
    ),
    "POST": lambda url: requests.post(
        url, headers={**TUS, "Upload-Length": str(len(DATA))}, timeout=TIMEOUT
    ),
    "PUT": lambda url: requests.put(url, data=b"x" * len(DATA), headers=TUS, timeout=TIMEOUT),
    "DELETE": lambda url: requests.delete(url, headers=TUS, timeout=TIMEOUT),
}


# The owner's session as the other user might try to reach it, each a function of
# (the owner's location, the other user's, a session id) giving a URL.
FORGERIES: dict[str, Callable[[Location, Location, str], str]] = {
    "the other user's signed query on the owner's session": lambda mine, theirs, session: (
        theirs.url(session_id=session)
    ),
    "the owner's claims with the other user's signature": lambda mine, theirs, session: mine.url(
        session_id=session, sig=theirs.query["sig"]
    ),
    "the other user's location claiming the owner as owner": lambda mine, theirs, session: (
        theirs.url(session_id=session, owner=mine.query["owner"])
    ),
    "the owner's claims, unsigned": lambda mine, theirs, session: mine.url(
        session_id=session, sig=None, kid=None
    ),
    "no query at all": lambda mine, theirs, session: f"{mine.base}{session}",
}


def answer(response: requests.Response) -> tuple[int, bytes, str]:
    return response.status_code, response.content, response.headers.get("Content-Type", "")


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize("method", sorted(REQUESTS))
def test_a_forged_location_is_refused_as_for_a_session_that_does_not_exist(
    uploads: Uploads, forgery: str, method: str
) -> None:
    mine, theirs = uploads.mine, uploads.theirs
    forge, send = FORGERIES[forgery], REQUESTS[method]

    at_the_owners = answer(send(forge(mine, theirs, mine.session_id)))
    at_no_session = answer(send(forge(mine, theirs, uuid.uuid4().hex)))

    assert at_the_owners == at_no_session
    assert at_the_owners[0] == 403
    assert_owners_upload_untouched(mine)


def assert_owners_upload_untouched(mine: Location) -> None:
    head = requests.head(mine.url(), headers=TUS, timeout=TIMEOUT)
    assert (head.status_code, head.headers["Upload-Offset"]) == (200, "0")


def test_after_every_forgery_the_owner_uploads_and_the_bytes_are_the_owners(
    uploads: Uploads,
) -> None:
    world, mine, theirs = uploads.world, uploads.mine, uploads.theirs
    for forge in FORGERIES.values():
        for send in REQUESTS.values():
            send(forge(mine, theirs, mine.session_id))

    response = requests.put(mine.url(), data=DATA, headers=TUS, timeout=TIMEOUT)

    assert response.status_code == 200, response.content
    assert response.json()["sha256"] == hashlib.sha256(DATA).hexdigest()
    file = File.objects.get(owner=world.owner, name="mine.txt")
    assert response.json()["file_id"] == str(file.pk)


def test_the_other_users_own_location_still_works_for_their_own_session(
    uploads: Uploads,
) -> None:
    """The refusals above are about whose session it is, not a broken location."""
    response = requests.head(uploads.theirs.url(), headers=TUS, timeout=TIMEOUT)

    assert (response.status_code, response.headers["Upload-Offset"]) == (200, "0")


def test_an_idempotency_key_names_only_the_callers_own_upload(
    uploads: Uploads,
) -> None:
    """The other user retrying an intent with the owner's key gets an upload of their
    own, not the owner's session."""
    world = uploads.world
    body = {"name": "same.txt", "size": len(DATA)}
    first = key_client(world, OWNER).post("/api/v1/uploads/", body, format="json")

    second = key_client(world, OTHER).post("/api/v1/uploads/", body, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["file_id"] != second.json()["file_id"]
    assert first.json()["upload_url"] != second.json()["upload_url"]
    assert File.objects.get(pk=second.json()["file_id"]).owner == world.other
    assert File.objects.get(pk=first.json()["file_id"]).state == FileState.AWAITING_UPLOAD


def key_client(world: World, actor: str) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {world.keys[actor]}", HTTP_IDEMPOTENCY_KEY="shared-key"
    )
    return client
