"""`usp watch` against a real gRPC ApiService on 127.0.0.1 that replays a script."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.pki import Pki, make_pki
from usp.cli.config import Settings, write_settings
from usp.cli.main import main
from usp.cli.tests.fakes import ScriptedApiService, serve_grpc
from usp.cli.tests.test_main import FILE_ID, TOKEN
from usp.grpc_tls import TlsFiles
from usp.v1 import api_service_pb2, common_pb2

Q, R, S, F = (
    common_pb2.JOB_STATE_QUEUED,
    common_pb2.JOB_STATE_RUNNING,
    common_pb2.JOB_STATE_SUCCEEDED,
    common_pb2.JOB_STATE_FAILED,
)


def file_message(
    state: common_pb2.FileState, jobs: Sequence[tuple[str, common_pb2.JobState, int, str]]
) -> api_service_pb2.File:
    return api_service_pb2.File(
        id=FILE_ID,
        name="photo.jpg",
        state=state,
        jobs=[
            api_service_pb2.Job(id=f"job-{step}", step=step, state=s, attempts=a, error=e)
            for step, s, a, e in jobs
        ],
    )


@pytest.fixture
def start_service(cli_environment: Path) -> Iterator[object]:
    started: list[Iterator[str]] = []

    def start(
        script: Sequence[api_service_pb2.File], *, tls: TlsFiles | None = None
    ) -> ScriptedApiService:
        servicer = ScriptedApiService(TOKEN, FILE_ID, script)
        serving = serve_grpc(servicer, tls=tls)
        target = next(serving)
        started.append(serving)
        settings = Settings(url="http://127.0.0.1:1", token=TOKEN, grpc_api=target)
        write_settings(cli_environment, settings)
        return servicer

    yield start
    for serving in started:
        next(serving, None)


def test_watch_prints_each_change_once_and_exits_zero_when_ready(
    start_service, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = common_pb2.FILE_STATE_STORED
    processing = common_pb2.FILE_STATE_PROCESSING
    servicer = start_service(
        [
            file_message(stored, [("metadata", Q, 0, ""), ("checksum", Q, 0, "")]),
            file_message(processing, [("metadata", R, 1, ""), ("checksum", Q, 0, "")]),
            file_message(processing, [("metadata", R, 1, ""), ("checksum", Q, 0, "")]),
            file_message(processing, [("metadata", S, 1, ""), ("checksum", R, 2, "")]),
            file_message(
                common_pb2.FILE_STATE_READY, [("metadata", S, 1, ""), ("checksum", S, 2, "")]
            ),
        ]
    )

    assert main(["watch", FILE_ID, "--timeout", "10"]) == 0

    lines = [line.split("  ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        "stored      metadata=queued checksum=queued",
        "processing  metadata=running checksum=queued",
        "processing  metadata=succeeded checksum=running(attempt 2)",
        "ready       metadata=succeeded checksum=succeeded(attempt 2)",
    ]
    assert ("authorization", f"Token {TOKEN}") in servicer.seen_metadata


def test_watch_exits_one_and_shows_the_job_error_when_the_file_fails(
    start_service, capsys: pytest.CaptureFixture[str]
) -> None:
    start_service(
        [
            file_message(
                common_pb2.FILE_STATE_FAILED,
                [("metadata", S, 1, ""), ("image.thumbnail", F, 3, "not an image")],
            )
        ]
    )

    assert main(["watch", FILE_ID]) == 1

    captured = capsys.readouterr()
    assert captured.out.split("  ", 1)[1] == (
        "failed      metadata=succeeded image.thumbnail=failed(attempt 3)\n"
    )
    assert captured.err == "usp: image.thumbnail failed: not an image\n"


def test_watch_that_ends_before_a_final_state_is_an_error(
    start_service, capsys: pytest.CaptureFixture[str]
) -> None:
    start_service([file_message(common_pb2.FILE_STATE_PROCESSING, [])])

    assert main(["watch", FILE_ID]) == 1

    assert capsys.readouterr().err == (
        f"usp: the watch of file {FILE_ID} ended while it was processing\n"
    )


def test_watch_of_an_unknown_file_says_so(
    start_service, capsys: pytest.CaptureFixture[str]
) -> None:
    start_service([])

    assert main(["watch", "00000000-0000-4000-8000-000000000000"]) == 1

    assert capsys.readouterr().err == "usp: no file 00000000-0000-4000-8000-000000000000\n"


def test_watch_with_a_rejected_token_asks_to_log_in_again(
    start_service,
    cli_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start_service([])
    monkeypatch.setenv("USP_TOKEN", "wrong")

    assert main(["watch", FILE_ID]) == 1

    assert capsys.readouterr().err == "usp: the server refused the API token; run `usp login`\n"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


READY = [file_message(common_pb2.FILE_STATE_READY, [("metadata", S, 1, "")])]


def test_watch_reaches_a_tls_api_trusting_the_ca_given_with_ca(
    start_service, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    servicer = start_service(READY, tls=pki.service)

    assert main(["watch", FILE_ID, "--ca", str(pki.ca)]) == 0

    assert capsys.readouterr().out.split("  ", 1)[1] == "ready       metadata=succeeded\n"
    assert ("authorization", f"Token {TOKEN}") in servicer.seen_metadata


def test_watch_takes_the_ca_from_usp_ca(
    start_service, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_service(READY, tls=pki.service)
    monkeypatch.setenv("USP_CA", str(pki.ca))

    assert main(["watch", FILE_ID]) == 0


def test_watch_of_a_tls_api_refuses_a_server_its_ca_did_not_sign(
    start_service, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    start_service(READY, tls=pki.service)

    assert main(["watch", FILE_ID, "--ca", str(pki.stranger_ca)]) == 1

    assert capsys.readouterr().err.startswith("usp: cannot reach the gRPC API at localhost:")


def test_watch_without_a_ca_speaks_plaintext_to_an_http_server(
    start_service, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    start_service(READY, tls=pki.service)

    assert main(["watch", FILE_ID]) == 1

    assert capsys.readouterr().err.startswith("usp: cannot reach the gRPC API at localhost:")


def test_the_grpc_api_is_reached_over_tls_for_https_servers_or_a_given_ca() -> None:
    assert Settings(url="https://files.example.org").grpc_tls
    assert Settings(url="http://127.0.0.1:8000", ca="/etc/ca.pem").grpc_tls
    assert not Settings(url="http://127.0.0.1:8000").grpc_tls
