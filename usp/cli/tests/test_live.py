"""The CLI against the real webapp: pytest-django's live server for REST, the real
ApiService for `watch`, and the webapp's fake storage service behind both."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.waiting import wait_for
from usp import events
from usp.cli.config import read_settings
from usp.cli.main import main
from usp.v1 import common_pb2, processor_service_pb2
from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make, user_make
from webapp.apigrpc.server import create_server
from webapp.apigrpc.servicer import ApiServicer
from webapp.files.events import event_apply
from webapp.files.models import File, FileState, Job
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.files.tests.fixtures import fake_storage  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400


@pytest.fixture
def api_servicer(settings: Any) -> Iterator[ApiServicer]:
    """The ApiService on a free port; the REST root announces it."""
    servicer = ApiServicer(poll_interval=0.05)
    server, port = create_server("127.0.0.1:0", servicer=servicer)
    server.start()
    settings.USP = dataclasses.replace(settings.USP, api_grpc_port=port)
    try:
        yield servicer
    finally:
        servicer.close()
        server.stop(grace=None).wait()


@pytest.fixture
def server_url(live_server: Any) -> str:
    return live_server.url.replace("localhost", "127.0.0.1")


@pytest.fixture
def user(transactional_db: None) -> User:
    return user_make(username="cli-user")


@pytest.fixture
def logged_in(
    server_url: str,
    user: User,
    api_servicer: ApiServicer,
    fake_storage: FakeStorageServer,  # noqa: F811
    cli_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setattr("sys.stdin", io.StringIO(token_make(user) + "\n"))
    assert main(["login", server_url]) == 0
    return cli_environment


def test_login_stores_the_url_and_the_grpc_address_the_server_announces(
    logged_in: Path, server_url: str, api_servicer: ApiServicer, settings: Any
) -> None:
    stored = read_settings(logged_in)

    assert stored.url == server_url
    assert stored.grpc_api == f"127.0.0.1:{settings.USP.api_grpc_port}"


def test_login_with_a_wrong_token_is_refused_by_the_server(
    server_url: str, user: User, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["login", server_url, "--token", "usp_wrong"]) == 1

    assert capsys.readouterr().err.startswith("usp: ")
    assert not cli_environment.exists()


def test_multipart_upload_ls_and_get_round_trip_the_bytes_verified(
    logged_in: Path,
    user: User,
    fake_storage: FakeStorageServer,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "picture.png"
    source.write_bytes(CONTENT)
    capsys.readouterr()

    assert main(["upload", str(source), "--multipart", "--pipeline", "metadata,checksum"]) == 0
    file = File.objects.get(owner=user)
    assert capsys.readouterr().out == f"{file.pk}  picture.png  processing\n"
    assert list(Job.objects.filter(file=file).values_list("step", flat=True)) == [
        "metadata",
        "checksum",
    ]

    assert main(["ls"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split() == [str(file.pk), "processing", "100.0", "KiB", "picture.png"]

    target = tmp_path / "copy.png"
    assert main(["get", str(file.pk), "-o", str(target)]) == 0
    assert target.read_bytes() == CONTENT
    assert hashlib.sha256(target.read_bytes()).hexdigest() == file.sha256


def test_get_of_another_users_file_shows_the_servers_message(
    logged_in: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = user_make(username="stranger")
    theirs = File.objects.create(owner=stranger, name="x.txt", state=FileState.STORED)
    capsys.readouterr()

    assert main(["get", str(theirs.pk), "-o", str(tmp_path / "x.txt")]) == 1

    assert capsys.readouterr().err == "usp: No such file.\n"
    assert not (tmp_path / "x.txt").exists()


def test_watch_follows_processing_to_ready_and_exits_zero(
    logged_in: Path,
    user: User,
    api_servicer: ApiServicer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("notes\n")
    assert main(["upload", str(source), "--multipart"]) == 0
    file = File.objects.get(owner=user)
    capsys.readouterr()

    with processing_in_background(file, api_servicer, succeed=True):
        code = main(["watch", str(file.pk), "--timeout", "20"])

    lines = [line.split("  ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert lines[0] == "processing  metadata=queued checksum=queued"
    assert lines[-1] == "ready       metadata=succeeded checksum=succeeded"


def test_watch_of_a_failing_file_exits_one_with_the_reason(
    logged_in: Path,
    user: User,
    api_servicer: ApiServicer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("notes\n")
    assert main(["upload", str(source), "--multipart"]) == 0
    file = File.objects.get(owner=user)
    capsys.readouterr()

    with processing_in_background(file, api_servicer, succeed=False):
        code = main(["watch", str(file.pk), "--timeout", "20"])

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.splitlines()[-1].split("  ", 1)[1].startswith("failed")
    assert "usp: metadata failed: cannot read it (unreadable)" in captured.err


@contextmanager
def processing_in_background(file: File, servicer: ApiServicer, *, succeed: bool) -> Iterator[None]:
    """Applies the processor's events once `usp watch` has its stream open."""
    errors: list[BaseException] = []
    thread = threading.Thread(target=_process, args=(file, servicer, succeed, errors))
    thread.start()
    try:
        yield
    finally:
        thread.join(20)
    if errors:
        raise errors[0]


def _process(file: File, servicer: ApiServicer, succeed: bool, errors: list[BaseException]) -> None:
    try:
        wait_for(lambda: bool(servicer._watches))
        for job in Job.objects.filter(file=file):
            apply_outcome(job, succeed)
    except BaseException as exc:
        errors.append(exc)
    finally:
        connection.close()


def apply_outcome(job: Job, succeed: bool) -> None:
    started = processor_service_pb2.JobStarted(attempt=1, step=job.step)
    _apply(events.JOB_STARTED, job, started)
    if succeed:
        _apply(
            events.JOB_SUCCEEDED, job, processor_service_pb2.JobSucceeded(attempt=1, step=job.step)
        )
        return
    error = common_pb2.ErrorInfo(code="unreadable", message="cannot read it")
    failed = processor_service_pb2.JobFailed(attempt=1, step=job.step, error=error)
    _apply(events.JOB_FAILED, job, failed)


def _apply(event_type: str, job: Job, payload: Any) -> None:
    envelope = events.make_envelope(
        event_type, file_id=str(job.file.pk), job_id=str(job.id), payload=payload, attempt=1
    )
    event_apply(envelope=envelope)


def test_jobs_retry_and_reprocess_against_the_server(
    logged_in: Path,
    user: User,
    fake_storage: FakeStorageServer,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("notes\n")
    assert main(["upload", str(source), "--multipart", "--pipeline", "metadata,checksum"]) == 0
    file = File.objects.get(owner=user)
    metadata, checksum = Job.objects.filter(file=file).order_by("position")
    apply_outcome(metadata, succeed=False)
    capsys.readouterr()

    assert main(["jobs", "--state", "failed"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert main(["retry", str(metadata.pk)]) == 0
    retried = capsys.readouterr().out.splitlines()
    assert main(["retry", str(checksum.pk)]) == 1
    refused = capsys.readouterr().err
    assert main(["reprocess", str(file.pk), "--steps", "checksum"]) == 0
    reprocessed = capsys.readouterr().out.splitlines()

    assert [row.split()[:4] for row in listed[1:]] == [
        [str(metadata.pk), str(file.pk), "metadata", "failed"]
    ]
    assert listed[1].endswith("cannot read it (unreadable)")
    assert retried[1].split() == [str(metadata.pk), str(file.pk), "metadata", "queued", "1"]
    assert refused == "usp: Only a failed job can be retried; this one is queued.\n"
    new = Job.objects.get(file=file, step="checksum", superseded=False)
    assert reprocessed[0] == f"{file.pk}  notes.txt  processing"
    assert [row.split()[:4] for row in reprocessed[2:]] == [
        [str(metadata.pk), str(file.pk), "metadata", "queued"],
        [str(new.pk), str(file.pk), "checksum", "queued"],
    ]
    assert [
        [(job.job_id, job.step) for job in request.jobs]
        for request in fake_storage.storage.dispatches
    ] == [[(str(metadata.pk), "metadata")], [("", "checksum")]]
