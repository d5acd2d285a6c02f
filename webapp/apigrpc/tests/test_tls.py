"""The public ApiService over TLS (USP_GRPC_TLS_*): clients verify the server against the
CA and authenticate with API tokens, without a certificate of their own."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.pki import Pki, make_pki
from usp.v1 import api_service_pb2, api_service_pb2_grpc
from webapp.accounts.tests.factories import token_make, user_make
from webapp.apigrpc.serving import ApiServer, start_api
from webapp.files.tests.factories import file_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_api(settings: Any, pki: Pki) -> Iterator[ApiServer]:
    settings.USP = dataclasses.replace(settings.USP, grpc_tls=pki.service)
    api = start_api(0)
    yield api
    api.stop(grace=1)


def list_names(channel: grpc.Channel, token: str) -> list[str]:
    stub = api_service_pb2_grpc.ApiServiceStub(channel)
    response = stub.ListFiles(
        api_service_pb2.ListFilesRequest(),
        metadata=(("authorization", f"Token {token}"),),
        timeout=5,
    )
    return [file.name for file in response.files]


def test_a_client_trusting_the_ca_lists_files_with_its_api_token_and_no_certificate(
    tls_api: ApiServer, pki: Pki
) -> None:
    me = user_make()
    file_make(owner=me, name="over-tls.txt")
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())

    with grpc.secure_channel(f"localhost:{tls_api.port}", credentials) as channel:
        names = list_names(channel, token_make(me))

    assert tls_api.tls
    assert names == ["over-tls.txt"]


def test_a_plaintext_client_cannot_reach_the_tls_api(tls_api: ApiServer) -> None:
    me = user_make()
    with (
        grpc.insecure_channel(f"127.0.0.1:{tls_api.port}") as channel,
        pytest.raises(grpc.RpcError) as excinfo,
    ):
        list_names(channel, token_make(me))

    assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_that_does_not_trust_the_ca_refuses_the_server(
    tls_api: ApiServer, pki: Pki
) -> None:
    me = user_make()
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.stranger_ca.read_bytes())
    with (
        grpc.secure_channel(f"127.0.0.1:{tls_api.port}", credentials) as channel,
        pytest.raises(grpc.RpcError) as excinfo,
    ):
        list_names(channel, token_make(me))

    assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE
