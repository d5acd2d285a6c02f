"""Isolation of the live-status stream (server-sent events) on a real server: the owner
follows their file; anyone else gets the 404 of a file that does not exist, before any
stream opens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.isolation.conftest import ANONYMOUS, EXPIRED, OTHER, OWNER, REVOKED, STAFF, World
from tests.waiting import wait_for
from webapp.files.live import SLOTS, streams_end_all
from webapp.files.tests.sse import EventReader

pytestmark = pytest.mark.django_db(transaction=True)

READ_TIMEOUT = 5


@pytest.fixture(autouse=True)
def no_stream_left_open() -> Iterator[None]:
    yield
    streams_end_all()
    wait_for(lambda: len(SLOTS) == 0, timeout=READ_TIMEOUT, what="every stream to end")


@pytest.fixture
def base_url(committed_world: World, live_server: Any) -> str:
    return str(live_server.url).replace("localhost", "127.0.0.1")


def open_stream(base_url: str, file_id: str, key: str) -> requests.Response:
    headers = {"Accept": "text/event-stream"}
    if key:
        headers["Authorization"] = f"Token {key}"
    return requests.get(
        f"{base_url}/api/v1/files/{file_id}/events",
        headers=headers,
        stream=True,
        timeout=(5, READ_TIMEOUT),
    )


def test_the_owner_follows_their_file(committed_world: World, base_url: str) -> None:
    world = committed_world
    with open_stream(base_url, str(world.file.pk), world.keys[OWNER]) as response:
        events = EventReader(response).rest(READ_TIMEOUT)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert [(event.name, event.data["id"], event.data["state"]) for event in events] == [
        ("file", str(world.file.pk), "failed")
    ]


@pytest.mark.parametrize("actor", [OTHER, STAFF])
def test_another_users_stream_is_the_404_of_a_file_that_does_not_exist(
    committed_world: World, base_url: str, actor: str
) -> None:
    world = committed_world
    key = world.keys[actor]

    with open_stream(base_url, str(world.file.pk), key) as response:
        theirs = (response.status_code, response.headers["Content-Type"], response.json())
    with open_stream(base_url, str(uuid.uuid4()), key) as response:
        nothing = (response.status_code, response.headers["Content-Type"], response.json())

    assert theirs == nothing
    assert theirs == (
        404,
        "application/json",
        {"error": {"code": "not_found", "message": "No such file."}},
    )
    assert len(SLOTS) == 0


@pytest.mark.parametrize("actor", [ANONYMOUS, REVOKED, EXPIRED])
def test_no_stream_without_a_valid_key(committed_world: World, base_url: str, actor: str) -> None:
    world = committed_world

    with open_stream(base_url, str(world.file.pk), world.keys.get(actor, "")) as response:
        answer = (response.status_code, response.json()["error"]["code"])

    expected = "not_authenticated" if actor == ANONYMOUS else "authentication_failed"
    assert answer == (401, expected)
