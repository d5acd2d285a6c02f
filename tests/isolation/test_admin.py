"""The admin: staff see everyone's files there (and only there); nobody else gets in.

Every route of the admin site, walked from the URL configuration, sends a signed-in user
who is not staff, and nobody, to the admin's login.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import resolve

from tests.isolation.conftest import (
    ANONYMOUS,
    OTHER,
    OWNER,
    SESSION,
    STAFF,
    THUMBNAIL,
    World,
    body_of,
    client_for,
)
from tests.isolation.routes import Kind, Pattern, classify, path_for, url_patterns

pytestmark = pytest.mark.django_db

# The admin's own sign-in and sign-out answer whoever asks.
OPEN_ADMIN_ROUTES = ("admin/login/", "admin/logout/")


def admin_patterns() -> list[Pattern]:
    return [
        p for p in url_patterns() if classify(p) == Kind.ADMIN and p.route not in OPEN_ADMIN_ROUTES
    ]


@pytest.mark.parametrize("pattern", admin_patterns(), ids=lambda p: p.route)
@pytest.mark.parametrize("actor", [ANONYMOUS, OWNER, OTHER])
def test_admin_routes_send_everyone_but_staff_to_the_admin_login(
    world: World, pattern: Pattern, actor: str
) -> None:
    path = path_for(pattern.route, world.path_values())
    assert resolve(path).route == pattern.route.replace("^", "")  # the path is the route's

    response = client_for(world, actor, SESSION).get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={quote(path)}"


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/admin/files/file/", b"alice-secret.txt"),
        ("/admin/files/job/", b"alice-secret.txt"),
        ("/admin/accounts/apitoken/", b"laptop"),
        ("/admin/accounts/usage/", b"alice"),
    ],
)
def test_staff_see_another_users_things_in_the_admin_changelists(
    world: World, path: str, shown: bytes
) -> None:
    response = client_for(world, STAFF, SESSION).get(path)

    assert response.status_code == 200
    assert shown in body_of(response)


def test_staff_open_another_users_file_job_and_token_in_the_admin(world: World) -> None:
    staff = client_for(world, STAFF, SESSION)

    file_page = staff.get(f"/admin/files/file/{world.file.pk}/change/")
    job_page = staff.get(f"/admin/files/job/{world.failed_job.pk}/change/")
    token_page = staff.get(f"/admin/accounts/apitoken/{world.token.pk}/change/")
    thumbnail = staff.get(f"/admin/files/file/{world.file.pk}/derivatives/thumbnail-256/")

    assert (file_page.status_code, job_page.status_code, token_page.status_code) == (200, 200, 200)
    assert world.file.name.encode() in file_page.content
    assert b"cannot read it" in job_page.content
    assert world.token.name.encode() in token_page.content
    assert (thumbnail.status_code, body_of(thumbnail)) == (200, THUMBNAIL)


def test_the_admin_login_shows_nobody_anything_of_anyones(world: World) -> None:
    response = client_for(world, ANONYMOUS, SESSION).get("/admin/login/")

    assert response.status_code == 200
    assert world.file.name.encode() not in response.content
    assert world.owner.email.encode() not in response.content
