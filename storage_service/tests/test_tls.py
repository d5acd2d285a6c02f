"""Mutual TLS on the storage control plane (USP_GRPC_TLS_*): only clients holding a
certificate of the service CA complete the handshake, and they still need the token."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from storage_service.server import StorageServer, create_server
from storage_service.tests.conftest import TOKEN, FlakyBroker, make_settings
from tests.pki import Pki, make_pki
from usp import events
from usp.errors import ServiceError
from usp.grpc_auth import service_metadata
from usp.grpc_tls import TlsFiles, channel_credentials
from usp.message_auth import message_key
from usp.storage_client import CHUNK_SIZE, StorageClient

# Several chunks each way, so both streams carry more than one message.
DATA = os.urandom(3 * CHUNK_SIZE + 1234)
SHA = hashlib.sha256(DATA).hexdigest()
HEALTH = health_pb2.HealthCheckRequest(service="usp.v1.StorageService")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_server(tmp_path: Path, namespace: str, pki: Pki) -> Iterator[StorageServer]:
    settings = make_settings(tmp_path / "data", namespace, **pki.env())
    publisher = events.EventPublisher("", namespace, message_key=message_key(TOKEN))
    server = create_server(
        settings, broker=FlakyBroker(), publisher=publisher, address="127.0.0.1:0"
    )
    server.start()
    yield server
    server.stop(0)
    publisher.close()


@pytest.fixture
def tls_target(tls_server: StorageServer) -> str:
    return f"127.0.0.1:{tls_server.port}"


def check_health(channel: grpc.Channel) -> health_pb2.HealthCheckResponse:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(HEALTH, metadata=service_metadata(TOKEN), timeout=5)


def refused_connection(channel: grpc.Channel) -> bool:
    """True when a call fails because no connection could be established (the server
    ended the handshake), rather than being refused once connected."""
    with pytest.raises(grpc.RpcError) as excinfo:
        check_health(channel)
    error = excinfo.value
    return error.code() == grpc.StatusCode.UNAVAILABLE and "failed to connect" in (
        error.details() or ""
    )


def test_a_client_with_a_ca_signed_certificate_and_the_token_writes_and_reads_streams(
    tls_target: str, pki: Pki
) -> None:
    with StorageClient(tls_target, TOKEN, tls=pki.service, timeout=5.0) as client:
        assert client.is_serving()
        written = client.write_object(iter([DATA]), file_id="file-tls")
        read = b"".join(client.read_object(SHA))
        stat = client.stat_object(SHA)

    assert (written.object.sha256, written.object.size, written.created) == (SHA, len(DATA), True)
    assert read == DATA
    assert stat.size == len(DATA)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["by address", "by name"])
def test_the_server_certificate_is_verified_for_both_names_it_carries(
    tls_server: StorageServer, pki: Pki, host: str
) -> None:
    with grpc.secure_channel(
        f"{host}:{tls_server.port}", channel_credentials(pki.service)
    ) as channel:
        assert check_health(channel).status == health_pb2.HealthCheckResponse.SERVING


def test_a_client_without_a_certificate_is_refused_at_the_handshake(
    tls_target: str, pki: Pki
) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    with grpc.secure_channel(tls_target, credentials) as channel:
        assert refused_connection(channel)


def test_a_client_with_a_certificate_of_another_ca_is_refused(tls_target: str, pki: Pki) -> None:
    with grpc.secure_channel(tls_target, channel_credentials(pki.stranger)) as channel:
        assert refused_connection(channel)


def test_a_client_that_does_not_trust_the_service_ca_refuses_the_server(
    tls_target: str, pki: Pki
) -> None:
    distrustful = TlsFiles(cert=pki.service.cert, key=pki.service.key, ca=pki.stranger_ca)
    with StorageClient(tls_target, TOKEN, tls=distrustful, timeout=5.0) as client:
        assert not client.is_serving()
        with pytest.raises(ServiceError) as excinfo:
            client.stat_object(SHA)

    assert excinfo.value.status == grpc.StatusCode.UNAVAILABLE


def test_a_plaintext_client_fails(tls_target: str) -> None:
    with grpc.insecure_channel(tls_target) as channel:
        assert refused_connection(channel)


def test_a_certificate_does_not_replace_the_service_token(tls_target: str, pki: Pki) -> None:
    with grpc.secure_channel(tls_target, channel_credentials(pki.service)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.RpcError) as excinfo:
            stub.Check(HEALTH, metadata=service_metadata("not-the-token"), timeout=5)

    assert excinfo.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_settings_carry_the_tls_files(tmp_path: Path, pki: Pki) -> None:
    assert make_settings(tmp_path, "ns", **pki.env()).grpc_tls == pki.service
    assert make_settings(tmp_path, "ns").grpc_tls is None


def test_without_tls_settings_the_server_is_plaintext(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        assert check_health(channel).status == health_pb2.HealthCheckResponse.SERVING
