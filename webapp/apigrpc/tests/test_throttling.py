"""The ApiService counts calls against the same per-user rate as the REST API: past it,
RESOURCE_EXHAUSTED with the seconds to wait in the "retry-after" trailing metadata."""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import pytest
from rest_framework.test import APIClient

from usp.v1 import api_service_pb2, api_service_pb2_grpc
from webapp.accounts.tests.factories import token_make, user_make
from webapp.config.env import Rate
from webapp.files.tests.factories import file_make

TIMEOUT = 10
DAY = 86_400


def metadata(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Token {key}"),)


def list_files(stub: api_service_pb2_grpc.ApiServiceStub, key: str) -> grpc.StatusCode:
    try:
        stub.ListFiles(api_service_pb2.ListFilesRequest(), timeout=TIMEOUT, metadata=metadata(key))
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.fixture
def two_calls_a_day(settings: Any) -> None:
    settings.USP = dataclasses.replace(settings.USP, throttle_api=Rate(requests=2, seconds=DAY))


def test_calls_past_the_rate_are_resource_exhausted_with_a_retry_delay(
    two_calls_a_day: None, stub: api_service_pb2_grpc.ApiServiceStub
) -> None:
    user = user_make()
    file = file_make(owner=user)
    key = token_make(user)
    allowed = [list_files(stub, key), list_files(stub, key)]

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetFile(
            api_service_pb2.GetFileRequest(id=str(file.id)), timeout=TIMEOUT, metadata=metadata(key)
        )

    error: Any = raised.value
    trailing = dict(error.trailing_metadata())
    assert allowed == [grpc.StatusCode.OK, grpc.StatusCode.OK]
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert 1 <= int(trailing["retry-after"]) <= DAY
    assert error.details() == (
        f"Request was throttled. Expected available in {trailing['retry-after']} seconds."
    )


def test_the_limit_of_one_user_leaves_other_users_alone(
    two_calls_a_day: None, stub: api_service_pb2_grpc.ApiServiceStub
) -> None:
    limited, other = token_make(user_make()), token_make(user_make())

    statuses = [list_files(stub, limited) for _ in range(3)]

    assert statuses == [grpc.StatusCode.OK, grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert list_files(stub, other) == grpc.StatusCode.OK


def test_rest_and_grpc_calls_of_a_user_count_against_one_rate(
    two_calls_a_day: None, stub: api_service_pb2_grpc.ApiServiceStub
) -> None:
    key = token_make(user_make())
    rest = APIClient()
    rest.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    statuses = [rest.get("/api/v1/files/").status_code, list_files(stub, key)]

    assert statuses == [200, grpc.StatusCode.OK]
    assert list_files(stub, key) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert rest.get("/api/v1/files/").status_code == 429


def test_unauthenticated_calls_are_refused_before_they_are_counted(
    two_calls_a_day: None, stub: api_service_pb2_grpc.ApiServiceStub
) -> None:
    statuses = {list_files(stub, "not-a-token") for _ in range(3)}

    assert statuses == {grpc.StatusCode.UNAUTHENTICATED}
