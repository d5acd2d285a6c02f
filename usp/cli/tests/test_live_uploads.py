"""`usp upload` against the real thing: pytest-django's live webapp for intents and the
real storage service with its tus data plane. Storage's events are applied to the
webapp's catalog as the event consumer would apply them."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import wait_for
from usp.cli import uploads
from usp.cli.config import Settings, write_settings
from usp.cli.main import main
from usp.cli.tests.fakes import CuttingProxy
from usp.cli.tus import TusClient
from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make, user_make
from webapp.files.models import File
from webapp.files.tests.in_process_storage import storage_in_process

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 64 * 1024


@pytest.fixture
def proxy() -> Iterator[CuttingProxy]:
    running = CuttingProxy()
    yield running
    running.close()


@pytest.fixture
def storage(settings: Any, tmp_path: Path, proxy: CuttingProxy) -> Iterator[Any]:
    """The real storage service on free ports, its upload URLs pointing through `proxy`;
    settings.USP points the webapp at it."""
    environ = {"USP_STORAGE_PUBLIC_URL": proxy.url}
    with storage_in_process(settings, tmp_path / "storage", environ=environ) as server:
        proxy.target = ("127.0.0.1", server.http_port)
        yield server


@pytest.fixture
def user(transactional_db: None) -> User:
    return user_make(username="cli-uploader")


@pytest.fixture
def logged_in(live_server: Any, storage: Any, user: User, cli_environment: Path) -> User:
    url = str(live_server.url).replace("localhost", "127.0.0.1")
    write_settings(cli_environment, Settings(url=url, token=token_make(user)))
    return user


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "DEFAULT_RETRY", uploads.RetryPolicy(8, 0.05, 0.2))


@pytest.fixture
def patches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(offset, length) of every PATCH the CLI sends."""
    sent: list[tuple[int, int]] = []
    real_patch = TusClient.patch

    def recording_patch(self: TusClient, url: str, **kwargs: Any) -> int:
        sent.append((kwargs["offset"], len(kwargs["data"])))
        return real_patch(self, url, **kwargs)

    monkeypatch.setattr(TusClient, "patch", recording_patch)
    return sent


def make_file(directory: Path, name: str, size: int) -> Path:
    path = directory / name
    path.write_bytes(os.urandom(size))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_file(user: User) -> File:
    """The user's one file, once the catalog has heard that storage committed it."""
    return wait_for(
        lambda: File.objects.filter(owner=user).exclude(sha256="").first(),
        what="the file to be stored",
    )


def test_a_declared_sha256_flows_through_and_the_stored_file_matches_it(
    logged_in: User, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_file(tmp_path, "archive.bin", 5 * CHUNK + 123)

    assert main(["upload", str(source), "--sha256", "--chunk-size", str(CHUNK)]) == 0

    file = stored_file(logged_in)
    assert file.sha256 == sha256_of(source)
    assert file.size == source.stat().st_size
    file_id, name, state = capsys.readouterr().out.split()
    assert (file_id, name) == (str(file.pk), "archive.bin")
    assert state in ("stored", "processing")

    copy = tmp_path / "copy.bin"
    assert main(["get", file_id, "-o", str(copy)]) == 0
    assert copy.read_bytes() == source.read_bytes()


def test_an_interrupted_upload_resumes_from_the_servers_offset_when_run_again(
    logged_in: User,
    tmp_path: Path,
    patches: list[tuple[int, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = make_file(tmp_path, "video.bin", 16 * CHUNK)
    size = source.stat().st_size
    recording_patch = TusClient.patch

    def interrupt_after_five_chunks(self: TusClient, url: str, **kwargs: Any) -> int:
        if len(patches) == 5:
            raise KeyboardInterrupt
        return recording_patch(self, url, **kwargs)

    monkeypatch.setattr(TusClient, "patch", interrupt_after_five_chunks)
    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 130
    monkeypatch.setattr(TusClient, "patch", recording_patch)
    assert File.objects.get(owner=logged_in).state == "awaiting_upload"
    del patches[:]

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 0

    sent_again = sum(length for _offset, length in patches)
    assert patches[0][0] == 5 * CHUNK
    assert sent_again == size - 5 * CHUNK
    assert stored_file(logged_in).sha256 == sha256_of(source)
    assert File.objects.filter(owner=logged_in).count() == 1


def test_a_connection_dropped_mid_chunk_is_resumed_in_the_same_run(
    logged_in: User, tmp_path: Path, proxy: CuttingProxy, patches: list[tuple[int, int]]
) -> None:
    source = make_file(tmp_path, "data.bin", 6 * CHUNK)
    proxy.cut_after(2 * CHUNK + CHUNK // 2)  # the third chunk breaks off half-way

    assert main(["upload", str(source), "--chunk-size", str(CHUNK), "--sha256"]) == 0

    assert proxy.cuts == 1
    offsets = [offset for offset, _length in patches]
    # The broken chunk is sent again from the offset the server kept (a chunk with a
    # checksum is kept whole or not at all).
    assert offsets.count(2 * CHUNK) == 2
    assert offsets[-1] == 5 * CHUNK
    assert stored_file(logged_in).sha256 == sha256_of(source)


def test_three_files_upload_in_parallel(
    logged_in: User, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [make_file(tmp_path, f"part{i}.bin", 3 * CHUNK + i) for i in range(3)]

    assert main(["upload", *map(str, paths), "--parallel", "3", "--chunk-size", str(CHUNK)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[1] for line in lines) == ["part0.bin", "part1.bin", "part2.bin"]
    wait_for(lambda: File.objects.filter(owner=logged_in).exclude(sha256="").count() == 3)
    stored = dict(File.objects.filter(owner=logged_in).values_list("name", "sha256"))
    assert stored == {path.name: sha256_of(path) for path in paths}


def test_a_refused_intent_prints_the_servers_reason_and_the_other_files_go_on(
    logged_in: User, settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.USP = dataclasses.replace(settings.USP, max_upload_size=2 * CHUNK)
    big = make_file(tmp_path, "big.bin", 2 * CHUNK + 1)
    small = make_file(tmp_path, "small.bin", CHUNK)

    assert main(["upload", str(big), str(small)]) == 1

    captured = capsys.readouterr()
    assert captured.err.startswith(f"usp: {big}: ")
    assert "too large" in captured.err.lower()
    assert captured.err.count("\n") == 1
    assert captured.out.split()[1] == "small.bin"
    assert list(File.objects.filter(owner=logged_in).values_list("name", flat=True)) == [
        "small.bin"
    ]


def test_bytes_storage_refuses_at_the_last_chunk_fail_that_file_and_a_rerun_says_why(
    logged_in: User, settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The name claims an image, so the intent passes; the bytes are not one.
    settings.USP = dataclasses.replace(settings.USP, allowed_types=("image/*",))
    source = make_file(tmp_path, "holiday.png", 3 * CHUNK)

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 1

    first = capsys.readouterr().err
    assert first.startswith(f"usp: {source}: ")
    assert "not allowed" in first.lower()
    file = wait_for(lambda: File.objects.filter(owner=logged_in, state="failed").first())
    assert file.sha256 == ""

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 1

    assert capsys.readouterr().err.startswith(
        f"usp: {source}: storage refused this file's bytes in an earlier run: "
    )
    assert File.objects.filter(owner=logged_in).count() == 1
