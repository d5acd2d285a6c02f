"""USP_GRPC_TLS_*: all three PEM files or none, checked when the settings are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pki import Pki, make_pki
from usp.config import ConfigError
from usp.grpc_tls import TlsFiles, tls_from_env


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_without_the_variables_there_is_no_tls() -> None:
    assert tls_from_env({}) is None
    assert tls_from_env({"USP_GRPC_TLS_CERT": ""}) is None


def test_the_three_files_are_named_by_their_variables(pki: Pki) -> None:
    assert tls_from_env(pki.env()) == TlsFiles(
        cert=pki.service.cert, key=pki.service.key, ca=pki.ca
    )


@pytest.mark.parametrize("left_out", ["USP_GRPC_TLS_CERT", "USP_GRPC_TLS_KEY", "USP_GRPC_TLS_CA"])
def test_a_partial_configuration_is_refused_naming_what_is_missing(pki: Pki, left_out: str) -> None:
    environ = {name: value for name, value in pki.env().items() if name != left_out}

    with pytest.raises(ConfigError, match=f"^{left_out} must be set too"):
        tls_from_env(environ)


def test_a_path_that_is_not_a_file_is_refused_naming_the_variable(pki: Pki, tmp_path: Path) -> None:
    environ = {**pki.env(), "USP_GRPC_TLS_KEY": str(tmp_path / "absent.key")}

    with pytest.raises(ConfigError, match=r"^USP_GRPC_TLS_KEY names .*absent\.key, which is not"):
        tls_from_env(environ)


def test_the_repr_names_paths_never_key_material(pki: Pki) -> None:
    files = tls_from_env(pki.env())

    assert str(pki.service.key) in repr(files)
    for secret in pki.secrets():
        assert secret not in repr(files)
