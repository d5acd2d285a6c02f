"""The gRPC ApiService hands out the same signed links as the REST API."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import grpc
import pytest
from django.test import Client

from usp.v1 import api_service_pb2, api_service_pb2_grpc
from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make
from webapp.apigrpc.server import create_server
from webapp.apigrpc.servicer import ApiServicer
from webapp.files.tests.factories import derivative_make, file_make
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.usercontent.tests.conftest import HOST, ORIGIN

THUMBNAIL = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24)


@pytest.fixture
def stub(transactional_db: None) -> Iterator[api_service_pb2_grpc.ApiServiceStub]:
    """The real ApiService without a public URL: it cannot build site addresses."""
    servicer = ApiServicer(public_url="")
    server, port = create_server("127.0.0.1:0", servicer=servicer)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield api_service_pb2_grpc.ApiServiceStub(channel)
    finally:
        servicer.close()
        server.stop(grace=None).wait()


@pytest.mark.usefixtures("usercontent")
def test_derivative_links_over_grpc_are_signed_links_that_serve_the_bytes(
    stub: api_service_pb2_grpc.ApiServiceStub, user: User, fake_storage: FakeStorageServer
) -> None:
    file = file_make(owner=user, name="photo.png", data=b"png", content_type="image/png")
    derivative_make(file=file, kind="thumbnail-256", data=THUMBNAIL)
    fake_storage.storage.blobs[hashlib.sha256(THUMBNAIL).hexdigest()] = THUMBNAIL

    message = stub.GetFile(
        api_service_pb2.GetFileRequest(id=str(file.id)),
        timeout=10,
        metadata=(("authorization", f"Token {token_make(user)}"),),
    )
    link = urlsplit(message.derivatives[0].url)
    served: Any = Client().get(link.path, HTTP_HOST=HOST, secure=True)

    assert f"{link.scheme}://{link.netloc}" == ORIGIN
    assert link.path.startswith("/content/")
    assert (served.status_code, b"".join(served.streaming_content)) == (200, THUMBNAIL)


def test_without_either_origin_grpc_derivative_links_stay_empty(
    stub: api_service_pb2_grpc.ApiServiceStub, user: User
) -> None:
    file = file_make(owner=user, name="photo.png", data=b"png", content_type="image/png")
    derivative_make(file=file, kind="thumbnail-256", data=THUMBNAIL)

    message = stub.GetFile(
        api_service_pb2.GetFileRequest(id=str(file.id)),
        timeout=10,
        metadata=(("authorization", f"Token {token_make(user)}"),),
    )

    assert [d.url for d in message.derivatives] == [""]
