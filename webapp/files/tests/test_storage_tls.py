"""The webapp's storage client over mutual TLS: an upload through the webapp streams to
the real storage service and the download streams back, with USP_GRPC_TLS_* set on both."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.test import APIClient

from tests.pki import Pki, make_pki
from usp import jobs
from usp.v1 import common_pb2
from webapp.accounts.models import User
from webapp.files.events import event_apply
from webapp.files.models import File

pytestmark = pytest.mark.django_db(transaction=True)

# More than one gRPC chunk (1 MiB) each way.
DATA = os.urandom(2 * 1024 * 1024 + 321)


class CatalogPublisher:
    """Storage's event publisher, replaced by applying each event to the catalog."""

    def publish(self, envelope: common_pb2.EventEnvelope) -> None:
        try:
            event_apply(envelope=envelope)
        finally:
            connection.close()

    def close(self) -> None:
        return None


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_storage(settings: Any, tmp_path: Path, pki: Pki) -> Iterator[str]:
    """The real storage service requiring mutual TLS; settings.USP points the webapp at
    it with the same CA's certificate. Yields its target."""
    from storage_service.server import create_server
    from storage_service.settings import Settings as StorageSettings

    environ = {
        "USP_DATA_DIR": str(tmp_path / "storage"),
        "USP_STORAGE_GRPC_PORT": "0",
        "USP_STORAGE_HTTP_PORT": "0",
        "USP_SERVICE_TOKEN": settings.USP.service_token,
        "USP_BROKER_URL": "",
        **pki.env(),
    }
    broker = jobs.make_broker("")
    server = create_server(
        StorageSettings.from_env(environ), broker=broker, publisher=CatalogPublisher()
    )
    server.start()
    target = f"localhost:{server.port}"
    settings.USP = dataclasses.replace(
        settings.USP, storage_grpc_target=target, grpc_tls=pki.service
    )
    try:
        yield target
    finally:
        server.stop(0)
        broker.close()


def upload(api_client: APIClient) -> Any:
    data = SimpleUploadedFile("big.bin", DATA, content_type="application/octet-stream")
    return api_client.post("/api/v1/files/", {"file": data}, format="multipart")


def test_upload_and_download_through_the_webapp_over_mutual_tls(
    api_client: APIClient, user: User, tls_storage: str
) -> None:
    created = upload(api_client)
    assert created.status_code == 201, created.content
    file = File.objects.get(owner=user)

    download = api_client.get(f"/api/v1/files/{file.id}/content")

    assert download.status_code == 200
    assert b"".join(download.streaming_content) == DATA
    assert file.sha256 == hashlib.sha256(DATA).hexdigest()


def test_without_the_certificate_the_webapp_cannot_reach_storage_and_stores_nothing(
    api_client: APIClient, user: User, tls_storage: str, settings: Any
) -> None:
    settings.USP = dataclasses.replace(settings.USP, grpc_tls=None)

    response = upload(api_client)

    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "storage_unavailable",
            "message": "The storage service is unavailable right now; nothing was stored. "
            "Try again shortly.",
        }
    }
    assert list(File.objects.filter(owner=user).values_list("state", flat=True)) == []
