"""Isolation through the `usp` CLI, against the served webapp (pytest-django's live server
for REST, the real ApiService for `watch`, the fake storage service behind both).

Signed in as another user, every command on the owner's ids fails with the message and
exit status it gives for ids nothing has, and prints nothing of the owner's; the same
commands work for the owner.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.isolation.conftest import OTHER, OWNER, REVOKED, World
from usp.cli.main import main
from webapp.apigrpc.server import create_server
from webapp.apigrpc.servicer import ApiServicer
from webapp.files.models import Job, JobState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server_url(
    committed_world: World, live_server: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The webapp served, REST and gRPC (the REST root announces the gRPC port)."""
    servicer = ApiServicer(poll_interval=0.05)
    server, port = create_server("127.0.0.1:0", servicer=servicer)
    server.start()
    settings.USP = dataclasses.replace(settings.USP, api_grpc_port=port)
    try:
        yield str(live_server.url).replace("localhost", "127.0.0.1")
    finally:
        servicer.close()
        server.stop(grace=None).wait()


@pytest.fixture(autouse=True)
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file of the test's own, and no USP_* settings from outside."""
    for name in ("USP_URL", "USP_TOKEN", "USP_GRPC_API"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config" / "usp.json"
    monkeypatch.setenv("USP_CONFIG", str(path))
    return path


def sign_in(world: World, actor: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(world.keys[actor] + "\n"))
    assert main(["login", url]) == 0


@dataclasses.dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Run:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


# Each command on one of the owner's ids: the argv for an id.
COMMANDS: dict[str, Callable[[Path, str], list[str]]] = {
    "get": lambda tmp, file_id: ["get", file_id, "-o", str(tmp / "copy.txt")],
    "watch": lambda tmp, file_id: ["watch", file_id, "--timeout", "10"],
    "reprocess": lambda tmp, file_id: ["reprocess", file_id],
    "retry": lambda tmp, job_id: ["retry", job_id],
}
JOB_COMMANDS = ("retry",)
# What each prints for an id that is not the caller's ({id}: the id asked for).
NOT_FOUND = {
    "get": "usp: No such file.\n",
    "watch": "usp: no file {id}\n",
    "reprocess": "usp: No such file.\n",
    "retry": "usp: No such job.\n",
}


def owned_id(world: World, command: str) -> str:
    return str(world.failed_job.pk if command in JOB_COMMANDS else world.file.pk)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_another_users_command_on_the_owners_id_fails_as_for_an_id_nothing_has(
    committed_world: World,
    server_url: str,
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = committed_world
    sign_in(world, OTHER, server_url, monkeypatch)
    owned, missing = owned_id(world, command), str(uuid.uuid4())

    on_the_owners = run(COMMANDS[command](tmp_path, owned), capsys)
    on_nothing = run(COMMANDS[command](tmp_path, missing), capsys)

    assert on_the_owners.code != 0
    assert on_the_owners == dataclasses.replace(
        on_nothing, err=on_nothing.err.replace(missing, owned)
    )
    assert on_the_owners.err == NOT_FOUND[command].format(id=owned)
    assert world.file.name not in on_the_owners.out + on_the_owners.err
    assert not (tmp_path / "copy.txt").exists()
    assert Job.objects.get(pk=world.failed_job.pk).state == JobState.FAILED
    assert Job.objects.filter(file=world.file).count() == 2


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_owners_command_on_their_own_id_reaches_the_file(
    committed_world: World,
    server_url: str,
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The commands above can succeed: their failure is about whose id it is."""
    world = committed_world
    sign_in(world, OWNER, server_url, monkeypatch)

    result = run(COMMANDS[command](tmp_path, owned_id(world, command)), capsys)

    # `watch` follows the file to its end: failed, so it exits 1 with the job's error.
    assert result.code == (1 if command == "watch" else 0), result.err
    shown = {
        "get": "copy.txt",
        "watch": "failed      metadata=failed checksum=succeeded",
        "reprocess": str(world.file.pk),
        "retry": str(world.failed_job.pk),
    }
    assert shown[command] in result.out


@pytest.mark.parametrize("command", [["ls"], ["jobs"]])
def test_lists_show_the_other_user_only_their_own(
    committed_world: World,
    server_url: str,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = committed_world
    sign_in(world, OTHER, server_url, monkeypatch)

    result = run(command, capsys)

    assert result.code == 0
    assert str(world.other_file.pk) in result.out
    for value in (world.file.pk, world.file.name, world.failed_job.pk, world.succeeded_job.pk):
        assert str(value) not in result.out


@pytest.mark.parametrize("command", [["ls"], ["jobs"], ["get", "x"], ["watch", "x"]])
def test_a_revoked_key_gets_nothing(
    committed_world: World,
    server_url: str,
    command: list[str],
    cli_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = committed_world
    sign_in(world, OWNER, server_url, monkeypatch)
    monkeypatch.setenv("USP_TOKEN", world.keys[REVOKED])
    argv = [str(world.file.pk) if arg == "x" else arg for arg in command]

    result = run(argv, capsys)

    assert result.code != 0
    assert result.out == ""
    assert result.err.startswith("usp: ")
    assert world.file.name not in result.err
