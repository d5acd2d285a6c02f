"""The CLI run through main(argv) against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from usp.cli.config import Settings, read_settings, write_settings
from usp.cli.main import main
from usp.cli.tests.fakes import FakeHttpApi

TOKEN = "k" * 40
FILE_ID = "3f1c2a9e-7d6b-4e55-9a51-0c8b1d2e3f40"


def resource(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": FILE_ID,
        "name": "photo.jpg",
        "size": 2048,
        "content_type": "image/jpeg",
        "sha256": "",
        "state": "stored",
        "created_at": "2025-01-01T00:00:00Z",
        "metadata": {},
        "jobs": [],
        "derivatives": [],
        "content_url": f"/api/v1/files/{FILE_ID}/content",
    }
    base.update(overrides)
    return base


def logged_in(config: Path, api: FakeHttpApi) -> None:
    write_settings(config, Settings(url=api.url, token=TOKEN, grpc_api="127.0.0.1:1"))


def root_body(api: FakeHttpApi) -> dict[str, str]:
    return {
        "files": f"{api.url}/api/v1/files/",
        "schema": f"{api.url}/api/v1/schema/",
        "grpc_api": "127.0.0.1:50051",
    }


def empty_page() -> dict[str, object]:
    return {"count": 0, "next": None, "previous": None, "results": []}


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])

    assert exited.value.code == 2
    assert "usage: usp" in capsys.readouterr().err


def test_watch_refuses_a_non_positive_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["watch", FILE_ID, "--timeout", "0"])

    assert exited.value.code == 2
    assert "must be more than 0 seconds" in capsys.readouterr().err


def test_commands_before_login_say_how_to_log_in(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls"]) == 1

    captured = capsys.readouterr()
    assert captured.err == "usp: not logged in: run `usp login` (or set USP_URL and USP_TOKEN)\n"
    assert captured.out == ""


def test_login_with_token_verifies_it_and_stores_url_token_and_grpc_address(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http_api.json("GET", "/api/v1/", root_body(http_api))
    http_api.json("GET", "/api/v1/files/", empty_page())

    assert main(["login", http_api.url + "/", "--token", TOKEN]) == 0

    assert read_settings(cli_environment) == Settings(
        url=http_api.url, token=TOKEN, grpc_api="127.0.0.1:50051"
    )
    assert stat.S_IMODE(cli_environment.stat().st_mode) == 0o600
    assert {r.headers["Authorization"] for r in http_api.requests} == {f"Token {TOKEN}"}
    assert capsys.readouterr().out.startswith(f"logged in to {http_api.url};")


def test_login_reads_the_token_from_stdin_when_it_is_not_a_terminal(
    http_api: FakeHttpApi, cli_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_api.json("GET", "/api/v1/", root_body(http_api))
    http_api.json("GET", "/api/v1/files/", empty_page())
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{TOKEN}\n"))

    assert main(["login", http_api.url]) == 0

    assert read_settings(cli_environment).token == TOKEN


def test_login_with_a_rejected_token_shows_the_servers_message_and_stores_nothing(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http_api.json("GET", "/api/v1/", root_body(http_api))
    error = {"error": {"code": "not_authenticated", "message": "Invalid token."}}
    http_api.json("GET", "/api/v1/files/", error, status=401)

    assert main(["login", http_api.url, "--token", "wrong"]) == 1

    assert capsys.readouterr().err == "usp: Invalid token.\n"
    assert not cli_environment.exists()


def test_an_unreachable_server_is_reported_without_a_traceback(
    cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_settings(cli_environment, Settings(url="http://127.0.0.1:1", token=TOKEN))

    assert main(["ls"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("usp: cannot reach http://127.0.0.1:1: ")
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_env_overrides_let_commands_run_without_a_config_file(
    http_api: FakeHttpApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    http_api.json("GET", "/api/v1/files/", empty_page())
    monkeypatch.setenv("USP_URL", http_api.url)
    monkeypatch.setenv("USP_TOKEN", "from-env")

    assert main(["ls"]) == 0

    assert http_api.requests[0].headers["Authorization"] == "Token from-env"
    assert capsys.readouterr().err == "no files yet\n"


def test_ls_prints_a_table_and_follows_every_page(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    second_id = "00000000-0000-4000-8000-000000000002"
    http_api.json(
        "GET",
        "/api/v1/files/",
        {
            "count": 2,
            "next": f"{http_api.url}/api/v1/files/?page=2",
            "previous": None,
            "results": [resource(state="ready", size=3 * 1024 * 1024)],
        },
    )
    http_api.json(
        "GET",
        "/api/v1/files/?page=2",
        {
            "count": 2,
            "next": None,
            "previous": f"{http_api.url}/api/v1/files/",
            "results": [resource(id=second_id, name="notes.txt", size=12, state="failed")],
        },
    )

    assert main(["ls"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "ID                                    STATE            SIZE  NAME",
        f"{FILE_ID}  ready         3.0 MiB  photo.jpg",
        f"{second_id}  failed           12 B  notes.txt",
    ]


def test_upload_multipart_streams_one_post_with_pipeline_and_prints_one_line_per_file(
    http_api: FakeHttpApi,
    cli_environment: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logged_in(cli_environment, http_api)
    http_api.json("POST", "/api/v1/files/", resource(name="a.txt", state="stored"), status=201)
    source = tmp_path / "a.txt"
    source.write_bytes(b"hello upload")

    assert (
        main(
            ["upload", str(source), "--multipart", "--pipeline", "metadata, checksum", "--progress"]
        )
        == 0
    )

    (request,) = http_api.requests
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.headers["Authorization"] == f"Token {TOKEN}"
    assert b'name="file"; filename="a.txt"' in request.body
    assert b"\r\n\r\nhello upload\r\n" in request.body
    assert b'name="pipeline"\r\n\r\nmetadata,checksum\r\n' in request.body
    captured = capsys.readouterr()
    assert captured.out == f"{FILE_ID}  a.txt  stored\n"
    assert "a.txt" in captured.err  # the progress bar


def test_upload_of_a_missing_file_sends_nothing(
    http_api: FakeHttpApi,
    cli_environment: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logged_in(cli_environment, http_api)
    missing = tmp_path / "missing.bin"

    assert main(["upload", str(missing)]) == 1

    assert http_api.requests == []
    assert capsys.readouterr().err == f"usp: {missing}: no such file\n"


def test_upload_multipart_reports_the_servers_error_per_file_and_exits_non_zero(
    http_api: FakeHttpApi,
    cli_environment: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logged_in(cli_environment, http_api)
    error = {"error": {"code": "file_too_large", "message": "The file exceeds 10 MiB."}}
    http_api.json("POST", "/api/v1/files/", error, status=413)
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 100)

    assert main(["upload", str(source), "--multipart"]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"usp: {source}: The file exceeds 10 MiB.\n"


def test_an_error_without_a_json_body_names_the_status(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    http_api.raw("GET", "/api/v1/files/", b"<h1>oops</h1>", "text/html")
    http_api.routes[("GET", "/api/v1/files/")].status = 502

    assert main(["ls"]) == 1

    assert capsys.readouterr().err == (
        f"usp: HTTP 502 Bad Gateway from {http_api.url}/api/v1/files/\n"
    )


def test_server_json_error_message_is_shown_for_an_unknown_file(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    error = {"error": {"code": "not_found", "message": "No such file."}}
    http_api.json("GET", f"/api/v1/files/{FILE_ID}/", error, status=404)

    assert main(["get", FILE_ID]) == 1

    assert capsys.readouterr().err == "usp: No such file.\n"
    assert json.loads(http_api.reply("GET", f"/api/v1/files/{FILE_ID}/").body) == error
