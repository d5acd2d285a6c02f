"""The ApiService over a real channel: authentication, ownership, lists, one file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from django.utils import timezone
from google.protobuf import struct_pb2, timestamp_pb2

from usp.v1 import api_service_pb2, api_service_pb2_grpc, common_pb2
from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make, user_make
from webapp.apigrpc.servicer import decode_page_token, encode_page_token
from webapp.files.models import ErrorClass, File, FileState, JobState
from webapp.files.tests.factories import derivative_make, file_make, job_make

TIMEOUT = 10


def auth(key: str, scheme: str = "Token") -> tuple[tuple[str, str], ...]:
    return (("authorization", f"{scheme} {key}"),)


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as raised:
        result = call(*args, timeout=TIMEOUT, **kwargs)
        if not isinstance(result, api_service_pb2.File | api_service_pb2.ListFilesResponse):
            list(result)  # a stream fails while it is read
    return raised.value


def files_in_order(owner: User, count: int) -> list[File]:
    """`count` files, the newest first, one minute apart."""
    now = timezone.now()
    return [
        file_make(owner=owner, name=f"f{i}.jpg", created_at=now - timedelta(minutes=i))
        for i in range(count)
    ]


def ts(value: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message


def test_list_files_returns_only_the_callers_files_newest_first(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me, other = user_make(), user_make()
    mine = files_in_order(me, 3)
    file_make(owner=other, name="not-mine.jpg")

    response = stub.ListFiles(
        api_service_pb2.ListFilesRequest(), timeout=TIMEOUT, metadata=auth(token_make(me))
    )

    assert [f.id for f in response.files] == [str(f.id) for f in mine]
    assert response.next_page_token == ""


def test_list_files_pages_with_a_token_until_the_last_page(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me = user_make()
    files_in_order(me, 5)
    metadata = auth(token_make(me))

    seen: list[list[str]] = []
    token = ""
    for _ in range(5):
        request = api_service_pb2.ListFilesRequest(page_size=2, page_token=token)
        response = stub.ListFiles(request, timeout=TIMEOUT, metadata=metadata)
        seen.append([f.name for f in response.files])
        token = response.next_page_token
        if not token:
            break

    assert seen == [["f0.jpg", "f1.jpg"], ["f2.jpg", "f3.jpg"], ["f4.jpg"]]


def test_list_files_caps_the_page_size(stub: api_service_pb2_grpc.ApiServiceStub) -> None:
    me = user_make()
    files_in_order(me, 3)

    response = stub.ListFiles(
        api_service_pb2.ListFilesRequest(page_size=100_000),
        timeout=TIMEOUT,
        metadata=auth(token_make(me)),
    )

    assert len(response.files) == 3


def test_a_forged_page_token_is_invalid_argument(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me = user_make()

    error = rpc_error(
        stub.ListFiles,
        api_service_pb2.ListFilesRequest(page_token="not-a-token"),
        metadata=auth(token_make(me)),
    )

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "invalid page_token"


def test_page_tokens_round_trip_and_reject_negative_offsets() -> None:
    assert decode_page_token(encode_page_token(400)) == 400
    assert decode_page_token("") == 0
    with pytest.raises(Exception, match="invalid page_token"):
        decode_page_token(encode_page_token(-1))


def test_get_file_returns_the_whole_file_with_jobs_and_derivative_links(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me = user_make()
    file = file_make(
        owner=me,
        name="photo.jpg",
        data=b"content",
        content_type="image/jpeg",
        state=FileState.FAILED,
        metadata={"width": 640, "exif": {"model": "X"}},
    )
    started = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    done = job_make(
        file=file,
        step="metadata",
        position=0,
        state=JobState.SUCCEEDED,
        attempts=1,
        started_at=started,
        finished_at=started,
    )
    broken = job_make(
        file=file,
        step="image.thumbnail",
        position=1,
        state=JobState.FAILED,
        attempts=3,
        error="not an image",
        error_code="not_an_image",
        error_class=ErrorClass.PERMANENT,
    )
    retrying = job_make(
        file=file,
        step="text",
        position=2,
        state=JobState.QUEUED,
        attempts=1,
        error="storage unavailable",
        error_code="storage_unavailable",
        error_class=ErrorClass.TRANSIENT,
    )
    thumbnail = derivative_make(file=file)

    message = stub.GetFile(
        api_service_pb2.GetFileRequest(id=str(file.id)),
        timeout=TIMEOUT,
        metadata=auth(token_make(me), scheme="Bearer"),
    )

    metadata = struct_pb2.Struct()
    metadata.update({"width": 640, "exif": {"model": "X"}})
    expected = api_service_pb2.File(
        id=str(file.id),
        name="photo.jpg",
        size=7,
        content_type="image/jpeg",
        sha256=file.sha256,
        state=common_pb2.FILE_STATE_FAILED,
        created_at=ts(file.created_at),
        metadata=metadata,
        jobs=[
            api_service_pb2.Job(
                id=str(done.id),
                step="metadata",
                state=common_pb2.JOB_STATE_SUCCEEDED,
                attempts=1,
                started_at=ts(started),
                finished_at=ts(started),
            ),
            api_service_pb2.Job(
                id=str(broken.id),
                step="image.thumbnail",
                state=common_pb2.JOB_STATE_FAILED,
                attempts=3,
                error="not an image",
                error_code="not_an_image",
                error_class=api_service_pb2.ERROR_CLASS_PERMANENT,
            ),
            api_service_pb2.Job(
                id=str(retrying.id),
                step="text",
                state=common_pb2.JOB_STATE_QUEUED,
                attempts=1,
                error="storage unavailable",
                error_code="storage_unavailable",
                error_class=api_service_pb2.ERROR_CLASS_TRANSIENT,
            ),
        ],
        derivatives=[
            api_service_pb2.DerivativeLink(
                kind="thumbnail-256",
                content_type="image/webp",
                size=thumbnail.size,
                url=f"https://files.example.org/api/v1/files/{file.id}/derivatives/thumbnail-256",
            )
        ],
    )
    assert message == expected


def test_get_file_of_another_users_file_is_not_found(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me, other = user_make(), user_make()
    theirs = file_make(owner=other)

    error = rpc_error(
        stub.GetFile,
        api_service_pb2.GetFileRequest(id=str(theirs.id)),
        metadata=auth(token_make(me)),
    )

    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "No such file."


@pytest.mark.parametrize("malformed", ["", "nope", "123", "../etc/passwd"])
def test_get_file_with_a_malformed_id_is_not_found(
    stub: api_service_pb2_grpc.ApiServiceStub, malformed: str
) -> None:
    me = user_make()

    error = rpc_error(
        stub.GetFile, api_service_pb2.GetFileRequest(id=malformed), metadata=auth(token_make(me))
    )

    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Token usp_not-a-real-key"),),
        (("authorization", "Basic dXNlcjpwYXNz"),),
    ],
    ids=["missing", "invalid", "other-scheme"],
)
@pytest.mark.parametrize("method", ["ListFiles", "GetFile", "WatchFile"])
def test_calls_without_a_valid_token_are_unauthenticated(
    stub: api_service_pb2_grpc.ApiServiceStub,
    metadata: tuple[tuple[str, str], ...],
    method: str,
) -> None:
    requests = {
        "ListFiles": api_service_pb2.ListFilesRequest(),
        "GetFile": api_service_pb2.GetFileRequest(id=str(file_make(owner=user_make()).id)),
        "WatchFile": api_service_pb2.WatchFileRequest(id="x"),
    }

    error = rpc_error(getattr(stub, method), requests[method], metadata=metadata)

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_revoked_token_is_unauthenticated(stub: api_service_pb2_grpc.ApiServiceStub) -> None:
    from webapp.accounts.models import ApiToken
    from webapp.accounts.services import api_token_revoke

    me = user_make()
    key = token_make(me)
    api_token_revoke(token=ApiToken.objects.get(user=me))

    error = rpc_error(stub.ListFiles, api_service_pb2.ListFilesRequest(), metadata=auth(key))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
