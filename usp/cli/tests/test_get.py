"""`usp get`: the bytes land at PATH only when their SHA-256 matches the resource's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from usp.cli.config import Settings, write_settings
from usp.cli.main import main
from usp.cli.tests.fakes import FakeHttpApi
from usp.cli.tests.test_main import FILE_ID, TOKEN, resource

CONTENT = b"\x89PNG fake image bytes " * 5000


@pytest.fixture
def served_file(http_api: FakeHttpApi, cli_environment: Path) -> FakeHttpApi:
    write_settings(cli_environment, Settings(url=http_api.url, token=TOKEN))
    http_api.raw("GET", f"/api/v1/files/{FILE_ID}/content", CONTENT, "application/octet-stream")
    return http_api


def declare(api: FakeHttpApi, sha256: str) -> None:
    body = resource(size=len(CONTENT), sha256=sha256, state="ready")
    api.json("GET", f"/api/v1/files/{FILE_ID}/", body)


def test_get_saves_the_content_when_the_checksum_matches(
    served_file: FakeHttpApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    declare(served_file, hashlib.sha256(CONTENT).hexdigest())
    target = tmp_path / "out" / "copy.png"
    target.parent.mkdir()

    assert main(["get", FILE_ID, "-o", str(target)]) == 0

    assert target.read_bytes() == CONTENT
    assert [p.name for p in target.parent.iterdir()] == ["copy.png"]
    assert capsys.readouterr().out.startswith(f"{target}  ")
    content_request = served_file.requests[-1]
    assert content_request.path == f"/api/v1/files/{FILE_ID}/content"
    assert content_request.headers["Authorization"] == f"Token {TOKEN}"


def test_get_with_a_checksum_mismatch_fails_and_leaves_no_file(
    served_file: FakeHttpApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    declare(served_file, wrong)
    target = tmp_path / "out" / "copy.png"
    target.parent.mkdir()

    assert main(["get", FILE_ID, "-o", str(target)]) == 1

    assert list(target.parent.iterdir()) == []
    err = capsys.readouterr().err
    assert err.startswith(f"usp: checksum mismatch for copy.png: expected SHA-256 {wrong}")
    assert err.endswith("nothing was saved\n")


def test_get_with_a_mismatch_keeps_an_existing_file_untouched(
    served_file: FakeHttpApi, tmp_path: Path
) -> None:
    declare(served_file, "0" * 64)
    target = tmp_path / "copy.png"
    target.write_bytes(b"previous")

    assert main(["get", FILE_ID, "-o", str(target)]) == 1

    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".copy")] == []


def test_get_into_a_directory_uses_the_files_own_name(
    served_file: FakeHttpApi, tmp_path: Path
) -> None:
    declare(served_file, hashlib.sha256(CONTENT).hexdigest())

    assert main(["get", FILE_ID, "-o", str(tmp_path)]) == 0

    assert (tmp_path / "photo.jpg").read_bytes() == CONTENT


def test_get_of_a_file_without_content_yet_is_an_error(
    served_file: FakeHttpApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served_file.json(
        "GET", f"/api/v1/files/{FILE_ID}/", resource(sha256="", state="awaiting_upload")
    )

    assert main(["get", FILE_ID, "-o", str(tmp_path / "x")]) == 1

    assert capsys.readouterr().err == (
        f"usp: file {FILE_ID} has no content yet (state: awaiting_upload)\n"
    )
    assert not (tmp_path / "x").exists()
