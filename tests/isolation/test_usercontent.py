"""Isolation with a separate user-content origin (USP_USERCONTENT_ORIGIN).

There a signed link is the only credential: the site hands one to the owner only (its
content routes redirect the owner and answer anyone else the 404 of a missing id); a
link changed to name the owner's file is refused exactly as one naming no file; and no
route of the site answers on that host, whoever asks.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.isolation.conftest import (
    ANONYMOUS,
    CONTENT,
    OTHER,
    OWNER,
    SESSION,
    STAFF,
    THUMBNAIL,
    TOKEN,
    World,
    body_of,
    client_for,
)
from tests.isolation.routes import ROUTES, Kind, classify, path_for, url_patterns

pytestmark = pytest.mark.django_db

ORIGIN = "https://usercontent.test"
HOST = "usercontent.test"
NOTHING_HERE = {"error": {"code": "not_found", "message": "There is nothing at this address."}}
INVALID_LINK = {"error": {"code": "invalid_link", "message": "This link is not valid."}}


@pytest.fixture(autouse=True)
def usercontent(settings: Any) -> None:
    settings.USP = dataclasses.replace(settings.USP, usercontent_origin=ORIGIN)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]


def on_usercontent(client: Client, path: str, method: str = "GET") -> Any:
    return client.generic(method, path, HTTP_HOST=HOST, secure=True)


CONTENT_PATHS = {
    "content": "/api/v1/files/{file_id}/content",
    "derivative": "/api/v1/files/{file_id}/derivatives/thumbnail-256",
}


@pytest.mark.parametrize("route", sorted(CONTENT_PATHS))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    ("actor", "transport"), [(OTHER, TOKEN), (OTHER, SESSION), (STAFF, TOKEN), (STAFF, SESSION)]
)
def test_only_the_owner_is_handed_a_link(
    world: World, route: str, method: str, actor: str, transport: str
) -> None:
    client = client_for(world, actor, transport)
    path = CONTENT_PATHS[route]

    theirs = client.generic(method, path.format(file_id=world.file.pk))
    nothing = client.generic(method, path.format(file_id=uuid.uuid4()))
    owners = client_for(world, OWNER, transport).generic(method, path.format(file_id=world.file.pk))

    assert (theirs.status_code, theirs.content) == (nothing.status_code, nothing.content)
    assert theirs.status_code == 404
    assert not theirs.has_header("Location")
    assert owners.status_code == 302
    assert owners["Location"].startswith(f"{ORIGIN}/content/")


def link_for(world: World, actor: str, route: str, file_id: object) -> str:
    """The token of the signed link the site hands `actor` for their file."""
    response = client_for(world, actor, TOKEN).get(CONTENT_PATHS[route].format(file_id=file_id))
    assert response.status_code == 302, response.content
    return urlsplit(response["Location"]).path.removeprefix("/content/")


def with_payload(token: str, **changes: object) -> str:
    """The token with fields of its signed payload changed and its signature kept."""
    payload, _, signature = token.rpartition(":")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields.update(changes)
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + ":" + signature


def test_the_owners_link_serves_the_bytes_to_whoever_holds_it(world: World) -> None:
    content = link_for(world, OWNER, "content", world.file.pk)
    thumbnail = link_for(world, OWNER, "derivative", world.file.pk)

    served = on_usercontent(Client(), f"/content/{content}")
    served_thumbnail = on_usercontent(Client(), f"/content/{thumbnail}")

    assert (served.status_code, body_of(served)) == (200, CONTENT)
    assert (served_thumbnail.status_code, body_of(served_thumbnail)) == (200, THUMBNAIL)


FORGERIES = {
    "the other user's link naming the owner's file": lambda world, token, file_id: with_payload(
        token, f=file_id
    ),
    "the other user's link naming the owner's file and the owner": lambda world, token, file_id: (
        with_payload(token, f=file_id, o=world.owner.pk)
    ),
    "the owner's file with no signature": lambda world, token, file_id: with_payload(
        token, f=file_id
    ).rpartition(":")[0],
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_link_changed_to_name_the_owners_file_is_refused_as_one_naming_no_file(
    world: World, forgery: str, method: str, fake_storage: Any
) -> None:
    theirs = link_for(world, OTHER, "content", world.other_file.pk)
    fake_storage.storage.reads.clear()

    owners = on_usercontent(
        Client(), f"/content/{FORGERIES[forgery](world, theirs, str(world.file.pk))}", method
    )
    nothing = on_usercontent(
        Client(), f"/content/{FORGERIES[forgery](world, theirs, str(uuid.uuid4()))}", method
    )

    assert (owners.status_code, owners.content) == (nothing.status_code, nothing.content)
    assert owners.status_code == 403
    if method == "GET":
        assert owners.json() == INVALID_LINK
    assert fake_storage.storage.reads == []


def test_the_table_names_the_signed_content_routes_of_the_user_content_host() -> None:
    hosted = [p.key for p in url_patterns() if p.host == "usercontent"]

    assert hosted != []
    assert all(ROUTES[key].kind == Kind.SIGNED_CONTENT for key in hosted)


def site_paths(world: World) -> list[str]:
    """A path for every route of the site, naming the owner's objects where it can."""
    values = world.path_values()
    return [path_for(p.route, values) for p in url_patterns() if not p.host and classify(p)]


@pytest.mark.parametrize(
    ("actor", "transport"), [(OWNER, TOKEN), (OWNER, SESSION), (ANONYMOUS, SESSION)]
)
def test_no_route_of_the_site_answers_on_the_user_content_host(
    world: World, actor: str, transport: str
) -> None:
    client = client_for(world, actor, transport)

    for path in site_paths(world):
        response = on_usercontent(client, path)
        assert (path, response.status_code, response.json()) == (path, 404, NOTHING_HERE)
        assert not response.cookies
