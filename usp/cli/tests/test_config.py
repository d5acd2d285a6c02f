from __future__ import annotations

import stat
from pathlib import Path

import pytest

from usp.cli.config import (
    Settings,
    apply_environment,
    config_path,
    load_settings,
    normalize_url,
    read_settings,
    write_settings,
)
from usp.cli.errors import CliError


def test_settings_are_written_readable_by_the_owner_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "config.json"
    settings = Settings(url="http://h:1", token="secret", grpc_api="h:2")

    write_settings(path, settings)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_settings(path) == settings
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]


def test_rewriting_settings_replaces_them_and_keeps_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write_settings(path, Settings(url="http://a", token="one"))
    path.chmod(0o644)

    write_settings(path, Settings(url="http://b", token="two"))

    assert read_settings(path) == Settings(url="http://b", token="two")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_missing_file_reads_as_empty_settings(tmp_path: Path) -> None:
    assert read_settings(tmp_path / "absent.json") == Settings()


def test_a_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")

    with pytest.raises(CliError, match=r"cannot read the configuration .*config\.json"):
        read_settings(path)


def test_config_path_comes_from_usp_config_or_the_home_directory() -> None:
    assert config_path({"USP_CONFIG": "/x/y.json"}) == Path("/x/y.json")
    assert config_path({}) == Path("~/.config/usp/config.json").expanduser()


def test_environment_overrides_url_and_token_and_drops_the_other_servers_grpc_address() -> None:
    stored = Settings(url="http://stored:8000", token="stored-token", grpc_api="stored:50051")

    result = apply_environment(stored, {"USP_URL": "other:9000/", "USP_TOKEN": "env-token"})

    assert result == Settings(url="http://other:9000", token="env-token", grpc_api="")


def test_environment_keeps_the_stored_grpc_address_for_the_same_url() -> None:
    stored = Settings(url="http://stored:8000", token="t", grpc_api="stored:50051")

    assert apply_environment(stored, {"USP_URL": "http://stored:8000"}) == stored
    assert apply_environment(stored, {"USP_GRPC_API": "g:1"}).grpc_api == "g:1"


def test_the_ca_comes_from_ca_over_usp_ca_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    write_settings(path, Settings(url="https://h", token="t", ca="/stored/ca.pem"))
    environ = {"USP_CONFIG": str(path)}

    assert read_settings(path).ca == "/stored/ca.pem"
    assert load_settings(environ).ca == "/stored/ca.pem"
    assert load_settings({**environ, "USP_CA": "/env/ca.pem"}).ca == "/env/ca.pem"
    assert load_settings({**environ, "USP_CA": "/env/ca.pem"}, ca="/arg/ca.pem").ca == (
        "/arg/ca.pem"
    )


def test_loading_without_url_or_token_asks_to_log_in(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="not logged in"):
        load_settings({"USP_CONFIG": str(tmp_path / "none.json"), "USP_URL": "http://x"})


def test_normalize_url_adds_a_scheme_and_drops_trailing_slashes() -> None:
    assert normalize_url(" example.org:8000/ ") == "http://example.org:8000"
    assert normalize_url("https://example.org/") == "https://example.org"
