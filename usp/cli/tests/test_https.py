"""The CLI against a server over HTTPS with a private CA: `--ca` (or USP_CA, or the CA
`usp login` stored) makes the REST calls and the uploads trust it, even where
REQUESTS_CA_BUNDLE names another bundle; without it the certificate is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pki import Pki, make_pki
from usp.cli.config import Settings, read_settings, write_settings
from usp.cli.main import main
from usp.cli.tests.fakes import FakeHttpApi, Reply, serve_http
from usp.cli.tests.test_main import TOKEN, resource, root_body
from usp.cli.tus import TusClient, TusError


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture(autouse=True)
def other_bundle(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CA bundle from the environment that does not sign the server, as many systems
    set one: `--ca` must win over it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.stranger_ca))


@pytest.fixture
def https_api(pki: Pki) -> Iterator[FakeHttpApi]:
    api = FakeHttpApi()
    page = {"count": 1, "next": None, "previous": None, "results": [resource(state="ready")]}
    api.json("GET", "/api/v1/files/", page)
    yield from serve_http(api, tls=pki.service)


def test_ls_over_https_trusts_the_ca_given_with_ca(
    https_api: FakeHttpApi, pki: Pki, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_settings(cli_environment, Settings(url=https_api.url, token=TOKEN))

    assert main(["ls", "--ca", str(pki.ca)]) == 0

    assert "photo.jpg" in capsys.readouterr().out
    assert [(r.method, r.path) for r in https_api.requests] == [("GET", "/api/v1/files/")]
    assert https_api.requests[0].headers["Authorization"] == f"Token {TOKEN}"


def test_without_the_ca_the_servers_certificate_is_refused_and_nothing_is_sent(
    https_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_settings(cli_environment, Settings(url=https_api.url, token=TOKEN))

    assert main(["ls"]) == 1

    error = capsys.readouterr().err
    assert error.startswith(f"usp: cannot reach {https_api.url}: ")
    assert "certificate verify failed" in error
    assert https_api.requests == []


def test_login_over_https_stores_the_ca_for_later_commands(
    https_api: FakeHttpApi, pki: Pki, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    https_api.json("GET", "/api/v1/", root_body(https_api))

    assert main(["login", https_api.url, "--token", TOKEN, "--ca", str(pki.ca)]) == 0
    assert read_settings(cli_environment).ca == str(pki.ca)
    assert main(["ls"]) == 0
    assert "photo.jpg" in capsys.readouterr().out


def test_upload_locations_over_https_trust_the_same_ca(https_api: FakeHttpApi, pki: Pki) -> None:
    headers = {"Upload-Offset": "5", "Upload-Length": "9"}
    https_api.routes[("HEAD", "/uploads/abc")] = Reply(200, b"", headers=headers)

    with TusClient(ca=str(pki.ca)) as client:
        state = client.state(f"{https_api.url}/uploads/abc")

    assert (state.offset, state.length) == (5, 9)
    with TusClient() as client, pytest.raises(TusError, match="certificate verify failed"):
        client.state(f"{https_api.url}/uploads/abc")
