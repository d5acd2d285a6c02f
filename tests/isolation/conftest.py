"""What every isolation test starts from: an owner with a file (stored, with a failed and
a succeeded job and a thumbnail), another user, a staff member, and API keys for each,
plus a revoked and an expired key of the owner's."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from tests.isolation.routes import Param
from webapp.accounts.models import ApiToken, Usage, User
from webapp.accounts.services import api_token_create, api_token_revoke
from webapp.accounts.tests.factories import token_make, user_make
from webapp.files.models import Derivative, ErrorClass, File, FileState, Job, JobState
from webapp.files.tests.factories import derivative_make, file_make, job_make
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.files.tests.fixtures import *  # noqa: F403

CONTENT = b"the owner's bytes\n"
THUMBNAIL = b"RIFF-the-owner's-thumbnail"
CSRF_ALLOWED_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

# Who asks: the owner, another user, a staff member (who sees others' things in the
# admin only), nobody, and the owner with a revoked or an expired key.
OWNER, OTHER, STAFF, ANONYMOUS, REVOKED, EXPIRED = (
    "owner",
    "other",
    "staff",
    "anonymous",
    "revoked",
    "expired",
)
# How they ask: with an API key, with a session (CSRF enforced), or with a session
# from a browser that prefers HTML (the browsable API).
TOKEN, SESSION, BROWSABLE = "token", "session", "browsable"


@dataclass
class World:
    owner: User
    other: User
    staff: User
    file: File
    failed_job: Job
    succeeded_job: Job
    derivative: Derivative
    # The other user's own file and job: what their lists show instead.
    other_file: File
    other_job: Job
    # The owner's token that the token routes name (not one any client signs in with).
    token: ApiToken
    keys: Mapping[str, str]

    def user(self, actor: str) -> User | None:
        return {OWNER: self.owner, OTHER: self.other, STAFF: self.staff}.get(actor)

    def owned_values(self) -> dict[Param, str]:
        """The owner's real ids, by what they name."""
        return {
            Param.FILE: str(self.file.pk),
            Param.JOB: str(self.failed_job.pk),
            Param.TOKEN: str(self.token.pk),
            Param.DERIVATIVE: self.derivative.kind,
        }

    def path_values(self) -> dict[str, str]:
        """A value for every path parameter of any route: the owner's ids where the
        route names one of the owner's objects, harmless values elsewhere."""
        return {
            "file_id": str(self.file.pk),
            "job_id": str(self.failed_job.pk),
            "token_id": str(self.token.pk),
            "kind": self.derivative.kind,
            "object_id": str(self.file.pk),
            "content_type_id": "1",
            "id": str(self.owner.pk),
            "app_label": "files",
            "url": "nothing-here",
            "key": "not-a-real-key",
            "uidb36": "1",
            "token": "not-a-link",
        }

    def missing_values(self) -> dict[Param, str]:
        """Ids nothing has, of the same shape (the derivative kind stays: it is only
        looked for in the file the id names)."""
        last_token = ApiToken.objects.order_by("-pk").values_list("pk", flat=True).first()
        return {
            Param.FILE: str(uuid.uuid4()),
            Param.JOB: str(uuid.uuid4()),
            Param.TOKEN: str((last_token or 0) + 1000),
            Param.DERIVATIVE: self.derivative.kind,
        }


def world_make(storage: FakeStorageServer | None = None) -> World:
    """The owner's file is failed (settled: a live stream ends after its first event),
    stored, with a thumbnail; its bytes are in `storage` when one is given."""
    owner = user_make(username="alice")
    other = user_make(username="mallory")
    staff = user_make(username="stella", is_staff=True, is_superuser=True)
    file = file_make(owner=owner, name="alice-secret.txt", data=CONTENT, state=FileState.FAILED)
    failed = job_make(
        file=file,
        step="metadata",
        state=JobState.FAILED,
        attempts=1,
        error="cannot read it",
        error_code="unreadable",
        error_class=ErrorClass.PERMANENT,
        last_sequence=30,
    )
    succeeded = job_make(file=file, step="checksum", state=JobState.SUCCEEDED, position=1)
    derivative = derivative_make(file=file, kind="thumbnail-256", data=THUMBNAIL)
    other_file = file_make(owner=other, name="mallory-notes.txt", state=FileState.READY)
    other_job = job_make(file=other_file, step="checksum", state=JobState.SUCCEEDED)
    Usage.objects.create(user=owner, bytes_used=len(CONTENT), files_used=1)
    if storage is not None:
        storage.storage.blobs[file.sha256] = CONTENT
        storage.storage.blobs[derivative.sha256] = THUMBNAIL
    named, _key = api_token_create(user=owner, name="laptop")
    revoked, revoked_key = api_token_create(user=owner, name="old")
    api_token_revoke(token=revoked)
    _expired, expired_key = api_token_create(
        user=owner, name="short", expires_at=timezone.now() - timedelta(seconds=1)
    )
    keys = {
        OWNER: token_make(owner, "owner"),
        OTHER: token_make(other, "other"),
        STAFF: token_make(staff, "staff"),
        REVOKED: revoked_key,
        EXPIRED: expired_key,
    }
    return World(
        owner, other, staff, file, failed, succeeded, derivative, other_file, other_job, named, keys
    )


@pytest.fixture
def world(db: None, fake_storage: FakeStorageServer) -> World:
    return world_make(fake_storage)


@pytest.fixture
def committed_world(transactional_db: None, fake_storage: FakeStorageServer) -> World:
    """The world, committed: for servers whose threads read it on their own connections."""
    return world_make(fake_storage)


def client_for(world: World, actor: str, transport: str) -> Client:
    """A test client asking as `actor` by `transport`.

    Session clients enforce CSRF like a browser's requests are checked, and carry a
    valid CSRF cookie and header, so every refusal the tests see is about who asks.
    """
    if transport == TOKEN:
        client = APIClient()
        if actor in world.keys:
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.keys[actor]}")
        return client
    secret = get_random_string(32, CSRF_ALLOWED_CHARS)
    headers = {"X-CSRFToken": secret}
    if transport == BROWSABLE:
        headers["Accept"] = "text/html"
    client = Client(enforce_csrf_checks=True, headers=headers)
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    user = world.user(actor)
    if user is not None:
        client.force_login(user)
    return client


def body_of(response: Any) -> bytes:
    """The whole body, a streamed one read to its end (which also closes it)."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)
