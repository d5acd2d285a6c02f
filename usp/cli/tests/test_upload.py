"""`usp upload` through intents and tus, against small real servers on 127.0.0.1: the
REST API with an intent route, and an in-memory tus data plane with scripted faults."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from usp.cli import uploads
from usp.cli.config import Settings, write_settings
from usp.cli.main import main
from usp.cli.tests.fakes import (
    FakeHttpApi,
    FakeTusServer,
    Recorded,
    Reply,
    serve_tus,
)
from usp.cli.tests.test_main import TOKEN
from usp.cli.tus import TusClient

CHUNK = 4096


@dataclass
class Intents:
    """The webapp's intent route: one file and one tus upload per Idempotency-Key."""

    tus: FakeTusServer
    by_key: dict[str, tuple[str, str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    refuse: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    barrier: threading.Barrier | None = None
    expired: set[str] = field(default_factory=set)

    def create(self, request: Recorded) -> Reply:
        body = json.loads(request.body)
        if body["name"] in self.refuse:
            status, code, message = self.refuse[body["name"]]
            return _json(status, {"error": {"code": code, "message": message}})
        if self.barrier is not None:
            self.barrier.wait()
        key = request.headers["Idempotency-Key"]
        if key not in self.by_key:
            file_id = str(uuid.uuid4())
            self.by_key[key] = (file_id, self.tus.create(file_id, body["size"]))
            self.names[file_id] = body["name"]
        file_id, url = self.by_key[key]
        body = {"file_id": file_id, "upload_url": url, "file": self.resource(file_id)}
        return _json(201, body)

    def file(self, request: Recorded) -> Reply:
        return _json(200, self.resource(request.path.rstrip("/").rsplit("/", 1)[-1]))

    def resource(self, file_id: str) -> dict[str, str]:
        upload = self.tus.uploads[file_id]
        done = upload.completed
        state = "stored" if done else "awaiting_upload"
        return {
            "id": file_id,
            "name": self.names[file_id],
            "state": "expired" if file_id in self.expired else state,
            "sha256": hashlib.sha256(upload.data).hexdigest() if done else "",
        }


def _json(status: int, body: object) -> Reply:
    return Reply(status, json.dumps(body).encode())


@pytest.fixture
def tus() -> Iterator[FakeTusServer]:
    yield from serve_tus(FakeTusServer())


@pytest.fixture
def intents(http_api: FakeHttpApi, tus: FakeTusServer, cli_environment: Path) -> Intents:
    write_settings(cli_environment, Settings(url=http_api.url, token=TOKEN))
    routes = Intents(tus)
    http_api.handlers[("POST", "/api/v1/uploads/")] = routes.create
    http_api.handlers[("GET", "/api/v1/files/")] = routes.file
    return routes


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "DEFAULT_RETRY", uploads.RetryPolicy(4, 0.01, 0.02))


def make_file(directory: Path, name: str, size: int) -> Path:
    path = directory / name
    path.write_bytes(os.urandom(size))
    return path


def intent_bodies(api: FakeHttpApi) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in api.requests if r.path == "/api/v1/uploads/"]


def test_upload_declares_an_intent_then_patches_checksummed_chunks_without_the_token(
    intents: Intents,
    http_api: FakeHttpApi,
    tus: FakeTusServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = make_file(tmp_path, "data.bin", 3 * CHUNK + 100)

    assert main(["upload", str(source), "--chunk-size", str(CHUNK), "--pipeline", "checksum"]) == 0

    (file_id,) = intents.names
    assert intent_bodies(http_api) == [
        {"name": "data.bin", "size": 3 * CHUNK + 100, "pipeline": ["checksum"]}
    ]
    assert bytes(tus.uploads[file_id].data) == source.read_bytes()
    patches = [r for r in tus.requests if r.method == "PATCH"]
    assert [int(r.headers["Upload-Offset"]) for r in patches] == [0, CHUNK, 2 * CHUNK, 3 * CHUNK]
    assert {r.headers["Content-Type"] for r in patches} == {"application/offset+octet-stream"}
    assert all(r.headers["Upload-Checksum"].startswith("sha256 ") for r in patches)
    assert all("Authorization" not in r.headers for r in tus.requests)
    assert capsys.readouterr().out == f"{file_id}  data.bin  stored\n"


def test_sha256_flag_declares_the_files_digest_in_the_intent(
    intents: Intents, http_api: FakeHttpApi, tmp_path: Path
) -> None:
    source = make_file(tmp_path, "data.bin", 5000)

    assert main(["upload", str(source), "--sha256"]) == 0

    (body,) = intent_bodies(http_api)
    assert body["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()


def test_a_rerun_sends_the_same_idempotency_key_and_only_the_missing_bytes(
    intents: Intents, http_api: FakeHttpApi, tus: FakeTusServer, tmp_path: Path
) -> None:
    source = make_file(tmp_path, "data.bin", 4 * CHUNK)
    tus.faults = [None, ("cut", 10), ("cut", 0), ("cut", 0), ("cut", 0), ("cut", 0)]

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 1
    (file_id,) = intents.names
    assert len(tus.uploads[file_id].data) == CHUNK + 10
    sent_before = tus.patched_bytes()

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 0

    keys = {r.headers["Idempotency-Key"] for r in http_api.requests if r.method == "POST"}
    assert len(keys) == 1
    assert tus.patched_bytes() - sent_before == 4 * CHUNK - (CHUNK + 10)
    assert bytes(tus.uploads[file_id].data) == source.read_bytes()


def test_a_changed_file_gets_a_new_upload(
    intents: Intents, http_api: FakeHttpApi, tmp_path: Path
) -> None:
    source = make_file(tmp_path, "data.bin", 100)
    assert main(["upload", str(source)]) == 0
    source.write_bytes(b"other content")

    assert main(["upload", str(source)]) == 0

    assert len(intents.names) == 2


def test_transient_failures_are_retried_from_the_servers_offset(
    intents: Intents, tus: FakeTusServer, tmp_path: Path
) -> None:
    source = make_file(tmp_path, "data.bin", 3 * CHUNK)
    tus.faults = [503, 423, ("cut", 100), 460]

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 0

    (file_id,) = intents.names
    assert bytes(tus.uploads[file_id].data) == source.read_bytes()
    methods = [r.method for r in tus.requests]
    # Each failed PATCH is followed by a HEAD for the offset to go on from.
    assert methods[:9] == ["HEAD", *["PATCH", "HEAD"] * 4]
    resumed_at = [int(r.headers["Upload-Offset"]) for r in tus.requests if r.method == "PATCH"]
    assert resumed_at[:5] == [0, 0, 0, 100, 100]


def test_a_permanent_refusal_of_a_chunk_fails_that_file_only(
    intents: Intents, tus: FakeTusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_file(tmp_path, "first.bin", 1000)
    second = make_file(tmp_path, "second.bin", 1000)
    tus.faults = [403]

    assert main(["upload", str(first), str(second), "--parallel", "1"]) == 1

    captured = capsys.readouterr()
    assert captured.err == f"usp: {first}: try again later\n"
    assert captured.out.endswith("  second.bin  stored\n")


def test_a_refused_intent_prints_the_servers_message_and_the_others_continue(
    intents: Intents, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = make_file(tmp_path, "big.bin", 2000)
    small = make_file(tmp_path, "small.bin", 10)
    intents.refuse["big.bin"] = (413, "too_large", "The file exceeds the 1 KiB limit.")

    assert main(["upload", str(big), str(small)]) == 1

    captured = capsys.readouterr()
    assert captured.err == f"usp: {big}: The file exceeds the 1 KiB limit.\n"
    assert captured.out.endswith("  small.bin  stored\n")
    assert captured.out.count("\n") == 1


def test_files_are_sent_in_parallel(
    intents: Intents, tus: FakeTusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [make_file(tmp_path, f"f{i}.bin", 3000 + i) for i in range(3)]
    # Every intent waits until all three are in flight: only a parallel run gets past.
    intents.barrier = threading.Barrier(3, timeout=10)

    assert main(["upload", *map(str, paths), "--parallel", "3", "--progress"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[1] for line in out) == ["f0.bin", "f1.bin", "f2.bin"]
    stored = {intents.names[file_id]: bytes(u.data) for file_id, u in tus.uploads.items()}
    assert stored == {path.name: path.read_bytes() for path in paths}


def test_an_interrupted_upload_resumes_from_the_server_offset_when_run_again(
    intents: Intents,
    tus: FakeTusServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = make_file(tmp_path, "data.bin", 10 * CHUNK)
    real_patch = TusClient.patch
    calls = {"n": 0}

    def patch_then_interrupt(self: TusClient, url: str, **kwargs: object) -> int:
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real_patch(self, url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(TusClient, "patch", patch_then_interrupt)
    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 130
    monkeypatch.setattr(TusClient, "patch", real_patch)
    (file_id,) = intents.names
    assert len(tus.uploads[file_id].data) == 3 * CHUNK
    sent_before = tus.patched_bytes()

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 0

    assert tus.patched_bytes() - sent_before == 7 * CHUNK
    assert bytes(tus.uploads[file_id].data) == source.read_bytes()
    assert capsys.readouterr().err.startswith("usp: interrupted")


def test_rerunning_a_completed_upload_sends_nothing_and_reports_the_file(
    intents: Intents, tus: FakeTusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_file(tmp_path, "data.bin", 1000)
    assert main(["upload", str(source)]) == 0
    requests_before = len(tus.requests)
    first_out = capsys.readouterr().out

    assert main(["upload", str(source)]) == 0

    assert len(tus.requests) == requests_before
    assert capsys.readouterr().out == first_out


def test_a_rerun_after_the_session_expired_starts_a_new_one_that_later_runs_find(
    intents: Intents, tus: FakeTusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_file(tmp_path, "data.bin", 3 * CHUNK)
    tus.faults = [None, ("cut", 0), ("cut", 0), ("cut", 0), ("cut", 0)]
    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 1
    (expired_id,) = intents.names
    intents.expired.add(expired_id)

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 0
    (new_id,) = set(intents.names) - {expired_id}
    assert bytes(tus.uploads[new_id].data) == source.read_bytes()
    requests_before = len(tus.requests)

    assert main(["upload", str(source), "--chunk-size", str(CHUNK)]) == 0

    assert len(intents.names) == 2
    assert len(tus.requests) == requests_before
    assert capsys.readouterr().out.splitlines()[-1] == f"{new_id}  data.bin  stored"


def test_an_empty_file_completes_with_one_empty_patch(
    intents: Intents, tus: FakeTusServer, tmp_path: Path
) -> None:
    source = make_file(tmp_path, "empty.txt", 0)

    assert main(["upload", str(source)]) == 0

    (file_id,) = intents.names
    assert tus.uploads[file_id].completed
    assert [(r.method, r.body) for r in tus.requests] == [("HEAD", b""), ("PATCH", b"")]


def test_retries_give_up_with_the_last_reason(
    intents: Intents, tus: FakeTusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_file(tmp_path, "data.bin", 1000)
    tus.faults = [503, 503, 503, 503]

    assert main(["upload", str(source)]) == 1

    assert capsys.readouterr().err == f"usp: {source}: try again later\n"


@pytest.mark.parametrize("value", ["0", "many", "-3"])
def test_parallel_must_be_a_positive_number(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["upload", "x", "--parallel", value])

    assert "--parallel" in capsys.readouterr().err
