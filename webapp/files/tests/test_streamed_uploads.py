"""The multipart path streams the form's file to storage while the form is parsed,
falling back to Django's buffered handlers whenever the request's length does not fit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from rest_framework.test import APIClient

from webapp.accounts.models import User
from webapp.files.models import File
from webapp.files.tests.fake_storage import FakeStorageServer
from webapp.files.tests.resources import usage_of

pytestmark = pytest.mark.django_db

BIG = bytes(range(256)) * (3 * 4096 + 7)  # a little over 3 MiB: several chunks


def post_form(client: APIClient, fields: dict[str, Any]) -> Any:
    """POST the fields as multipart, in the order given."""
    return client.post(
        "/api/v1/files/", encode_multipart(BOUNDARY, fields), content_type=MULTIPART_CONTENT
    )


@pytest.fixture
def buffered_bytes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes Django's buffering handlers were handed, request by request."""
    seen: list[int] = []
    original = TemporaryFileUploadHandler.receive_data_chunk

    def counting(self: TemporaryFileUploadHandler, raw_data: bytes, start: int) -> Any:
        seen.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting)
    return seen


def test_a_token_upload_goes_to_storage_as_it_is_parsed_and_counts_its_exact_size(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer, buffered_bytes: list[int]
) -> None:
    response = post_form(api_client, {"file": SimpleUploadedFile("big.bin", BIG)})

    assert response.status_code == 201, response.content
    sha = hashlib.sha256(BIG).hexdigest()
    assert (response.json()["size"], response.json()["sha256"]) == (len(BIG), sha)
    assert fake_storage.storage.blobs == {sha: BIG}
    assert not fake_storage.storage.headers[0].HasField("declared_size")  # sent unbuffered
    assert buffered_bytes == []
    assert usage_of(user) == (len(BIG), 1)
    assert File.objects.get().charged_bytes == len(BIG)


@pytest.mark.parametrize("pipeline_first", [True, False])
def test_steps_named_before_or_after_the_file_reach_storage(
    api_client: APIClient, fake_storage: FakeStorageServer, pipeline_first: bool
) -> None:
    file = {"file": SimpleUploadedFile("a.txt", b"words")}
    pipeline = {"pipeline": "checksum"}
    fields = {**pipeline, **file} if pipeline_first else {**file, **pipeline}

    response = post_form(api_client, fields)

    assert response.status_code == 201, response.content
    assert fake_storage.storage.pipelines == [["checksum"]]
    assert [job["step"] for job in response.json()["jobs"]] == ["checksum"]


def test_a_bad_pipeline_after_the_streamed_file_cancels_it_and_leaves_nothing(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    fields = {"file": SimpleUploadedFile("big.bin", BIG), "pipeline": "Bad Step"}

    response = post_form(api_client, fields)

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_pipeline")
    assert (File.objects.count(), usage_of(user)) == (0, (0, 0))
    assert (fake_storage.storage.blobs, fake_storage.storage.headers) == ({}, [])


def test_a_quota_that_holds_the_file_but_not_the_request_takes_the_buffered_way(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(quota_bytes=150)

    response = post_form(api_client, {"file": SimpleUploadedFile("a.bin", b"x" * 100)})

    assert response.status_code == 201, response.content
    assert fake_storage.storage.headers[0].declared_size == 100  # the buffered path
    assert usage_of(user) == (100, 1)


def test_a_request_longer_than_the_size_limit_streams_a_file_within_it(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(max_upload_size=100)

    response = post_form(api_client, {"file": SimpleUploadedFile("a.bin", b"x" * 100)})

    assert response.status_code == 201, response.content
    assert not fake_storage.storage.headers[0].HasField("declared_size")
    assert usage_of(user) == (100, 1)


def test_a_file_past_the_size_limit_found_while_streaming_is_413_and_leaves_nothing(
    api_client: APIClient,
    user: User,
    fake_storage: FakeStorageServer,
    usp_settings: Callable[..., None],
) -> None:
    usp_settings(max_upload_size=len(BIG) - 1)

    response = post_form(api_client, {"file": SimpleUploadedFile("big.bin", BIG)})

    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "too_large",
        "message": f"The file is too large: {len(BIG)} bytes; uploads may be at most "
        f"{len(BIG) - 1} bytes.",
    }
    assert (File.objects.count(), usage_of(user)) == (0, (0, 0))
    assert (fake_storage.storage.blobs, fake_storage.storage.headers) == ({}, [])


def broken_base64_form() -> bytes:
    """A form whose file part decodes for a while, then ends in the middle of base64."""
    return (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        "d29yZHM\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()


def test_a_file_part_that_breaks_while_parsed_is_400_and_leaves_nothing(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    response = api_client.post(
        "/api/v1/files/", broken_base64_form(), content_type=MULTIPART_CONTENT
    )

    assert response.status_code == 400
    assert (File.objects.count(), usage_of(user)) == (0, (0, 0))
    assert fake_storage.storage.blobs == {}


def test_of_two_file_parts_the_last_is_stored_and_the_first_leaves_nothing(
    api_client: APIClient, user: User, fake_storage: FakeStorageServer
) -> None:
    first, second = SimpleUploadedFile("a.bin", BIG), SimpleUploadedFile("b.bin", b"second")

    response = post_form(api_client, {"file": [first, second]})

    assert response.status_code == 201, response.content
    assert response.json()["name"] == "b.bin"
    assert fake_storage.storage.blobs == {hashlib.sha256(b"second").hexdigest(): b"second"}
    assert (File.objects.count(), usage_of(user)) == (1, (6, 1))
