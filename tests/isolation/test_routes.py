"""Isolation over HTTP, generated from the URL configuration.

Every route is classified in `routes.ROUTES` (or by the admin and allauth rules). Each
owned-object route is asked with every method, by the owner, another user, a staff
member, nobody, and a revoked and an expired key, with the owner's real ids: only the
owner gets anywhere; everyone else signed in gets exactly the answer a made-up id gets
(404, same body: nothing tells them the object exists); nobody gets a 200.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from tests.isolation.conftest import (
    ANONYMOUS,
    BROWSABLE,
    CONTENT,
    EXPIRED,
    OTHER,
    OWNER,
    REVOKED,
    SESSION,
    STAFF,
    THUMBNAIL,
    TOKEN,
    World,
    body_of,
    client_for,
)
from tests.isolation.routes import (
    METHODS,
    ROUTES,
    Kind,
    Param,
    Route,
    classify,
    parameter_names,
    path_for,
    url_patterns,
)
from webapp.files.models import File, Job, JobState

pytestmark = pytest.mark.django_db

REST_ACTORS = (
    (OWNER, TOKEN),
    (OWNER, SESSION),
    (OWNER, BROWSABLE),
    (OTHER, TOKEN),
    (OTHER, SESSION),
    (OTHER, BROWSABLE),
    (STAFF, TOKEN),
    (STAFF, SESSION),
    (ANONYMOUS, SESSION),
    (REVOKED, TOKEN),
    (EXPIRED, TOKEN),
)
PAGE_ACTORS = ((OWNER, SESSION), (OTHER, SESSION), (STAFF, SESSION), (ANONYMOUS, SESSION))
NOT_FOUND_MESSAGES = {
    Param.FILE: "No such file.",
    Param.JOB: "No such job.",
    Param.TOKEN: "No such token.",
}
NOT_AUTHENTICATED = {
    "error": {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
    }
}
BAD_KEY = {
    "error": {
        "code": "authentication_failed",
        "message": "The token is not valid, expired or revoked.",
    }
}
COMPARED_HEADERS = ("Content-Type", "Allow", "WWW-Authenticate", "Location")
_CSRF_VALUE = re.compile(rb'(csrfmiddlewaretoken" value="|"csrfToken": ")[^"]+')


def owned_routes() -> dict[str, Route]:
    return {
        pattern: r for pattern, r in ROUTES.items() if r.kind in (Kind.OWNED_API, Kind.OWNED_PAGE)
    }


def matrix() -> Iterable[Any]:
    for pattern, r in owned_routes().items():
        actors = REST_ACTORS if r.kind == Kind.OWNED_API else PAGE_ACTORS
        for method in METHODS:
            for actor, transport in actors:
                yield pytest.param(
                    pattern, method, actor, transport, id=f"{pattern}-{method}-{actor}-{transport}"
                )


def ask(client: Client, method: str, path: str) -> Any:
    data = "{}" if method in ("POST", "PUT", "PATCH") else ""
    return client.generic(method, path, data, content_type="application/json")


def path_with(pattern: str, r: Route, values: Mapping[Param, str]) -> str:
    return path_for(pattern, {name: values[param] for name, param in r.params.items()})


def ids_in(r: Route, values: Mapping[Param, str]) -> list[str]:
    """The ids (not the derivative kind) a path of the route carries."""
    return [values[p] for p in r.params.values() if p != Param.DERIVATIVE]


def comparable(response: Any, ids: Iterable[str]) -> tuple[int, dict[str, str], bytes]:
    """Status, the headers that could tell something, and the body, with the path's ids
    and the per-answer CSRF tokens of HTML pages replaced by placeholders."""
    body = body_of(response)
    headers = {name: str(response.get(name, "")) for name in COMPARED_HEADERS}
    for value in ids:
        segment = re.compile(rb"(?<=/)" + re.escape(value.encode()) + rb"(?=[/\"'?<\s]|$)")
        body = segment.sub(b"<id>", body)
        headers = {k: v.replace(f"/{value}", "/<id>") for k, v in headers.items()}
    return response.status_code, headers, _CSRF_VALUE.sub(rb"\1<csrf>", body)


# --- the table covers the URL configuration ------------------------------------------------


def test_every_route_of_the_url_configuration_is_classified() -> None:
    unclassified = [p.key for p in url_patterns() if classify(p) is None]

    assert unclassified == [], (
        "Classify these routes in tests/isolation/routes.py ROUTES and make sure the "
        f"isolation tests cover them: {unclassified}"
    )


def test_the_table_names_only_routes_that_exist() -> None:
    existing = {p.key for p in url_patterns()}

    assert sorted(set(ROUTES) - existing) == []


def test_owned_routes_name_every_path_parameter_they_take() -> None:
    for pattern, r in owned_routes().items():
        assert sorted(parameter_names(pattern)) == sorted(r.params), pattern


def test_every_owned_route_takes_an_id() -> None:
    for pattern, r in owned_routes().items():
        assert set(r.params.values()) - {Param.DERIVATIVE}, pattern


# --- owned-object routes: the matrix -------------------------------------------------------


@pytest.mark.parametrize(("pattern", "method", "actor", "transport"), list(matrix()))
def test_owned_route(world: World, pattern: str, method: str, actor: str, transport: str) -> None:
    r = ROUTES[pattern]
    owned = world.owned_values()
    path = path_with(pattern, r, owned)
    client = client_for(world, actor, transport)

    response = ask(client, method, path)

    if actor == OWNER:
        assert_owner_answer(world, pattern, method, transport, response)
    elif actor in (OTHER, STAFF):
        assert_same_as_for_a_missing_id(world, pattern, r, method, client, response)
    elif actor == ANONYMOUS:
        assert_refused_to_nobody(r, method, path, response)
    else:
        assert_json_error(response, method, 401, BAD_KEY)


# Where the owner's page actions lead (the file's page unless named here).
OWNER_REDIRECTS = {"accounts/tokens/<int:token_id>/revoke/": "/accounts/tokens/"}


def assert_owner_answer(
    world: World, pattern: str, method: str, transport: str, response: Any
) -> None:
    r = ROUTES[pattern]
    expected = r.methods.get(method, 405)
    if transport == BROWSABLE and expected == 204:
        expected = 200  # the browsable API shows a page for what a 204 answered
    body = body_of(response)
    assert response.status_code == expected, body[:500]
    if method == "GET" and expected == 200 and transport != BROWSABLE:
        assert_owner_content(world, r, response, body)
    if r.kind == Kind.OWNED_PAGE and expected == 302:
        location = OWNER_REDIRECTS.get(pattern, f"/files/{world.file.pk}/")
        assert response["Location"] == location


def assert_owner_content(world: World, r: Route, response: Any, body: bytes) -> None:
    """The owner's GET answers the bytes for downloads, else something (JSON, a page,
    an event stream) about the owner's file."""
    if set(r.params.values()) == {Param.FILE, Param.DERIVATIVE}:
        assert body == THUMBNAIL
    elif response.get("Content-Disposition", "").startswith("attachment"):
        assert body == CONTENT
    else:
        assert str(world.file.pk).encode() in body, body[:500]


def assert_json_error(response: Any, method: str, status: int, expected: Any) -> None:
    """The status, and the JSON error body (HEAD answers carry none)."""
    body = body_of(response)
    assert response.status_code == status, body[:500]
    if method == "HEAD":
        assert body == b""
    else:
        assert json.loads(body) == expected


def assert_same_as_for_a_missing_id(
    world: World, pattern: str, r: Route, method: str, client: Client, response: Any
) -> None:
    missing = world.missing_values()
    owned_ids = ids_in(r, world.owned_values())
    answer = comparable(response, owned_ids)

    for_missing = comparable(
        ask(client, method, path_with(pattern, r, missing)), ids_in(r, missing)
    )

    assert answer == for_missing
    expected = 404 if method in r.methods else 405
    assert answer[0] == expected, answer[2][:500]
    if expected == 404 and method != "HEAD" and answer[1]["Content-Type"] == "application/json":
        first = next(p for p in r.params.values() if p != Param.DERIVATIVE)
        assert json.loads(answer[2]) == {
            "error": {"code": "not_found", "message": NOT_FOUND_MESSAGES[first]}
        }
    assert_nothing_changed(world)


def assert_refused_to_nobody(r: Route, method: str, path: str, response: Any) -> None:
    if r.kind == Kind.OWNED_API:
        assert_json_error(response, method, 401, NOT_AUTHENTICATED)
    else:
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={quote(path)}"


def assert_nothing_changed(world: World) -> None:
    file = File.objects.get(pk=world.file.pk)
    assert (file.state, file.name) == (world.file.state, world.file.name)
    assert Job.objects.get(pk=world.failed_job.pk).state == JobState.FAILED
    assert not Job.objects.filter(file=file, superseded=True).exists()
    world.token.refresh_from_db()
    assert world.token.revoked_at is None


# --- every other route: its methods, and who sees what ------------------------------------


def other_routes(*kinds: Kind) -> list[str]:
    return [pattern for pattern, r in ROUTES.items() if r.kind in kinds]


NOT_OWNED = (Kind.PUBLIC, Kind.AUTH_PAGE, Kind.USER_API, Kind.SCHEMA, Kind.HEALTH)


@pytest.mark.parametrize("pattern", other_routes(*NOT_OWNED))
@pytest.mark.parametrize("method", METHODS)
def test_route_answers_the_methods_its_table_entry_lists(
    world: World, pattern: str, method: str
) -> None:
    response = ask(client_for(world, OWNER, SESSION), method, path_for(pattern, {}))

    if method in ROUTES[pattern].methods:
        assert response.status_code != 405
    else:
        assert response.status_code == 405


def owner_markers(world: World) -> list[bytes]:
    """What would show that an answer is about the owner's things."""
    values = [
        str(world.file.pk),
        world.file.name,
        world.file.sha256,
        str(world.failed_job.pk),
        str(world.succeeded_job.pk),
        world.token.name,
        world.owner.email,
    ]
    return [value.encode() for value in values]


# Collections whose owner's answer lists the owner's things (so the check of what the
# other user sees can fail).
LISTS_THE_OWNERS = ("api/v1/files/", "api/v1/jobs/", "api/v1/tokens/", "files/", "accounts/tokens/")


READABLE_COLLECTIONS = [
    p for p in other_routes(Kind.USER_API, Kind.AUTH_PAGE) if "GET" in ROUTES[p].methods
]


@pytest.mark.parametrize("pattern", READABLE_COLLECTIONS)
def test_collections_show_the_other_user_nothing_of_the_owners(world: World, pattern: str) -> None:
    path = path_for(pattern, {})
    markers = owner_markers(world)

    seen_by_other = body_of(client_for(world, OTHER, SESSION).get(path))
    seen_by_owner = body_of(client_for(world, OWNER, SESSION).get(path))

    assert [m for m in markers if m in seen_by_other] == []
    if pattern in LISTS_THE_OWNERS:
        assert [m for m in markers if m in seen_by_owner] != []


def test_usage_counts_only_the_callers_files(world: World) -> None:
    response = client_for(world, OTHER, TOKEN).get("/api/v1/usage/")
    mine = client_for(world, OWNER, TOKEN).get("/api/v1/usage/").json()

    assert response.json() == {
        "bytes_used": 0,
        "bytes_limit": mine["bytes_limit"],
        "files_used": 0,
        "files_limit": mine["files_limit"],
    }
    assert (mine["bytes_used"], mine["files_used"]) == (len(CONTENT), 1)


@pytest.mark.parametrize("pattern", other_routes(Kind.USER_API))
@pytest.mark.parametrize("actor", [ANONYMOUS, REVOKED, EXPIRED])
def test_user_apis_refuse_nobody_and_bad_keys(world: World, pattern: str, actor: str) -> None:
    client = client_for(world, actor, SESSION if actor == ANONYMOUS else TOKEN)
    expected = NOT_AUTHENTICATED if actor == ANONYMOUS else BAD_KEY

    for method in ROUTES[pattern].methods:
        assert_json_error(ask(client, method, path_for(pattern, {})), method, 401, expected)


@pytest.mark.parametrize("pattern", other_routes(Kind.AUTH_PAGE))
def test_pages_of_ones_own_things_send_nobody_to_the_login(world: World, pattern: str) -> None:
    client = client_for(world, ANONYMOUS, SESSION)
    path = path_for(pattern, {})

    for method in ROUTES[pattern].methods:
        response = ask(client, method, path)
        assert (method, response.status_code) == (method, 302)
        assert response["Location"] == f"/accounts/login/?next={quote(path)}"


@pytest.mark.parametrize("pattern", other_routes(Kind.PUBLIC, Kind.SCHEMA, Kind.HEALTH))
def test_public_routes_answer_nobody_and_show_nothing_of_anyones(
    world: World, pattern: str
) -> None:
    response = client_for(world, ANONYMOUS, SESSION).get(path_for(pattern, {}))
    body = body_of(response)

    assert response.status_code == 200
    assert [m for m in owner_markers(world) if m in body] == []


ALLAUTH_VALUES = {"key": "not-a-real-key", "uidb36": "1"}


def allauth_paths() -> list[str]:
    return [
        path_for(p.route, ALLAUTH_VALUES) for p in url_patterns() if classify(p) == Kind.ALLAUTH
    ]


@pytest.mark.parametrize("path", allauth_paths())
@pytest.mark.parametrize("actor", [ANONYMOUS, OTHER])
def test_account_pages_show_the_other_user_nothing_of_the_owners(
    world: World, path: str, actor: str
) -> None:
    response = client_for(world, actor, SESSION).get(path)
    body = body_of(response)

    assert response.status_code < 500
    assert [m for m in owner_markers(world) if m in body] == []
