"""Live status over server-sent events: GET /api/v1/files/{id}/events against the live
server, and the stream's generator on its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from tests.waiting import wait_for
from usp import events
from usp.v1 import processor_service_pb2
from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make
from webapp.files.events import event_apply
from webapp.files.live import SLOTS, file_event_stream, server_event, streams_end_all
from webapp.files.models import File, FileState, Job, JobState
from webapp.files.tests.factories import file_make, job_make
from webapp.files.tests.sse import EventReader, ServerEvent

pytestmark = pytest.mark.django_db(transaction=True)

READ_TIMEOUT = 5


@pytest.fixture(autouse=True)
def no_stream_left_open() -> Iterator[None]:
    """The live server notices a client that left only at its next write; end what a
    test left open before the next one counts slots."""
    yield
    streams_end_all()
    wait_for(lambda: len(SLOTS) == 0, timeout=READ_TIMEOUT, what="every stream to end")


@pytest.fixture
def base_url(live_server: Any) -> str:
    return str(live_server.url).replace("localhost", "127.0.0.1")


@pytest.fixture
def processing(user: User) -> File:
    file = file_make(owner=user, name="p.png", state=FileState.PROCESSING)
    job_make(file=file, step="checksum")
    return file


@contextmanager
def stream(base_url: str, file: File, key: str) -> Iterator[requests.Response]:
    response = requests.get(
        f"{base_url}/api/v1/files/{file.id}/events",
        headers={"Authorization": f"Token {key}", "Accept": "text/event-stream"},
        stream=True,
        timeout=(5, READ_TIMEOUT),
    )
    try:
        yield response
    finally:
        response.close()


def apply_job_event(job: Job, event_type: str) -> None:
    payload: Any = (
        processor_service_pb2.JobStarted(attempt=1, step=job.step)
        if event_type == events.JOB_STARTED
        else processor_service_pb2.JobSucceeded(attempt=1, step=job.step)
    )
    envelope = events.make_envelope(
        event_type, file_id=str(job.file_id), job_id=str(job.id), payload=payload, attempt=1
    )
    event_apply(envelope=envelope)


def job_states(event: ServerEvent) -> list[tuple[str, str]]:
    return [(job["step"], job["state"]) for job in event.data["jobs"]]


def test_stream_sends_the_file_now_then_each_applied_event_within_a_second(
    base_url: str, user: User, processing: File
) -> None:
    job = processing.jobs.get()
    with stream(base_url, processing, token_make(user)) as response:
        reader = EventReader(response)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        first = reader.next_event(within=READ_TIMEOUT)

        apply_job_event(job, events.JOB_STARTED)
        started = time.monotonic()
        running = reader.next_event(within=1.0)
        running_after = time.monotonic() - started
        apply_job_event(job, events.JOB_SUCCEEDED)
        rest = reader.rest(within=READ_TIMEOUT)

    assert first is not None and running is not None
    assert (first.name, first.data["id"], first.data["state"]) == (
        "file",
        str(processing.id),
        "processing",
    )
    assert job_states(first) == [("checksum", "queued")]
    assert job_states(running) == [("checksum", "running")]
    assert running_after < 1.0
    # The stream ends by itself once the file is settled.
    assert [(event.name, event.data["state"]) for event in rest] == [("file", "ready")]
    assert reader.retry_ms == 1000


def test_stream_of_another_users_file_is_not_found(
    base_url: str, user: User, other_user: User
) -> None:
    theirs = file_make(owner=other_user, state=FileState.PROCESSING)

    with stream(base_url, theirs, token_make(user)) as response:
        status, body = response.status_code, response.json()

    assert (status, body["error"]["code"]) == (404, "not_found")
    assert len(SLOTS) == 0


def test_stream_needs_authentication_and_accepts_a_session(
    base_url: str, user: User, processing: File, client: Any
) -> None:
    url = f"{base_url}/api/v1/files/{processing.id}/events"
    anonymous = requests.get(url, timeout=5)
    client.force_login(user)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    with requests.get(url, cookies=cookies, stream=True, timeout=(5, READ_TIMEOUT)) as signed_in:
        first = EventReader(signed_in).next_event(within=READ_TIMEOUT)

    assert anonymous.status_code == 401
    assert first is not None and first.data["id"] == str(processing.id)


def test_stream_beyond_the_allowed_number_is_refused_so_the_page_polls(
    base_url: str, user: User, processing: File, usp_settings: Callable[..., None]
) -> None:
    usp_settings(live_max_streams=1)
    key = token_make(user)
    with stream(base_url, processing, key) as first:
        EventReader(first).next_event(within=READ_TIMEOUT)
        with stream(base_url, processing, key) as second:
            status, body = second.status_code, second.json()

    assert (status, body["error"]["code"]) == (503, "too_many_streams")


def test_stream_of_a_settled_file_sends_it_once_and_ends(base_url: str, user: User) -> None:
    ready = file_make(owner=user, state=FileState.READY)

    with stream(base_url, ready, token_make(user)) as response:
        events_sent = EventReader(response).rest(within=READ_TIMEOUT)

    assert [(e.name, e.data["state"]) for e in events_sent] == [("file", "ready")]


# --- the generator -----------------------------------------------------------------------


def collect(file: File, user: User, **options: Any) -> tuple[list[bytes], float]:
    defaults: dict[str, Any] = {
        "render": lambda f: {"state": f.state},
        "ended": threading.Event(),
        "lifetime": 5.0,
        "poll_interval": 0.02,
    }
    started = time.monotonic()
    chunks = list(file_event_stream(user=user, file_id=str(file.id), **{**defaults, **options}))
    return chunks, time.monotonic() - started


def test_an_idle_stream_sends_keep_alive_comments_and_ends_at_its_lifetime(
    user: User, processing: File
) -> None:
    chunks, took = collect(processing, user, lifetime=0.3, heartbeat=0.05)

    assert chunks[:2] == [b"retry: 1000\n\n", server_event("file", {"state": "processing"})]
    assert set(chunks[2:]) == {b": keep-alive\n\n"}
    assert len(chunks[2:]) >= 2
    assert 0.3 <= took < 2


def test_a_stream_ends_when_told_to(user: User, processing: File) -> None:
    ended = threading.Event()
    threading.Timer(0.1, ended.set).start()

    chunks, took = collect(processing, user, ended=ended, lifetime=30)

    assert chunks == [b"retry: 1000\n\n", server_event("file", {"state": "processing"})]
    assert took < 2


def test_a_stream_ends_when_its_client_is_gone(user: User, processing: File) -> None:
    chunks, took = collect(processing, user, lifetime=30, client_gone=lambda: True)

    assert len(chunks) == 2
    assert took < 2


def test_a_file_deleted_while_streaming_ends_the_stream_with_gone(
    user: User, processing: File
) -> None:
    threading.Timer(0.1, lambda: File.objects.filter(pk=processing.pk).delete()).start()

    chunks, _took = collect(processing, user, lifetime=30)

    assert chunks[-1] == server_event("gone", {"id": str(processing.id)})


def test_a_retried_file_streams_again_from_failed_to_processing(
    user: User,
) -> None:
    failed = file_make(owner=user, state=FileState.FAILED)
    job_make(file=failed, step="checksum", state=JobState.FAILED)

    chunks, _took = collect(failed, user, lifetime=30)

    # A settled file ends the stream at once: a page reconnects after a retry.
    assert chunks == [b"retry: 1000\n\n", server_event("file", {"state": "failed"})]
