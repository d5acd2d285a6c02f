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
from rest_framework.test import APIClient

from tests.pki import Pki, make_pki
from webapp.accounts.models import User
from webapp.files.models import File
from webapp.files.tests.in_process_storage import storage_in_process

pytestmark = pytest.mark.django_db(transaction=True)

# More than one gRPC chunk (1 MiB) each way.
DATA = os.urandom(2 * 1024 * 1024 + 321)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_storage(settings: Any, tmp_path: Path, pki: Pki) -> Iterator[str]:
    """The real storage service requiring mutual TLS; settings.USP points the webapp at
    it with the same CA's certificate. Yields its target."""
    with storage_in_process(
        settings, tmp_path / "storage", environ=pki.env(), host="localhost", grpc_tls=pki.service
    ):
        yield settings.USP.storage_grpc_target


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
