"""WatchFile: the file now, then each change, until ready or failed or the caller leaves."""

from __future__ import annotations

import grpc
import pytest

from tests.waiting import wait_for
from usp.v1 import api_service_pb2, api_service_pb2_grpc, common_pb2
from webapp.accounts.tests.factories import token_make, user_make
from webapp.apigrpc.servicer import ApiServicer
from webapp.files.models import File, FileState, Job, JobState
from webapp.files.tests.factories import derivative_make, file_make, job_make

DEADLINE = 15


def summary(message: api_service_pb2.File) -> tuple[str, list[str], list[str]]:
    return (
        common_pb2.FileState.Name(message.state),
        [f"{j.step}:{common_pb2.JobState.Name(j.state)}:{j.attempts}" for j in message.jobs],
        [d.kind for d in message.derivatives],
    )


def watch(
    stub: api_service_pb2_grpc.ApiServiceStub, file: File, key: str, timeout: float = DEADLINE
):  # type: ignore[no-untyped-def]
    return stub.WatchFile(
        api_service_pb2.WatchFileRequest(id=str(file.id)),
        timeout=timeout,
        metadata=(("authorization", f"Token {key}"),),
    )


def test_watch_streams_each_change_from_stored_to_ready_and_then_ends(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me = user_make()
    file = file_make(owner=me, state=FileState.STORED)
    job = job_make(file=file, step="image.thumbnail")
    stream = watch(stub, file, token_make(me))

    first = next(stream)
    File.objects.filter(pk=file.pk).update(state=FileState.PROCESSING)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempts=1)
    second = next(stream)
    derivative_make(file=file)
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    File.objects.filter(pk=file.pk).update(state=FileState.READY)
    rest = list(stream)

    assert summary(first) == ("FILE_STATE_STORED", ["image.thumbnail:JOB_STATE_QUEUED:0"], [])
    assert summary(second) == (
        "FILE_STATE_PROCESSING",
        ["image.thumbnail:JOB_STATE_RUNNING:1"],
        [],
    )
    assert summary(rest[-1]) == (
        "FILE_STATE_READY",
        ["image.thumbnail:JOB_STATE_SUCCEEDED:1"],
        ["thumbnail-256"],
    )
    assert stream.code() == grpc.StatusCode.OK


def test_watch_of_a_file_already_failed_sends_it_once_and_ends(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me = user_make()
    file = file_make(owner=me, state=FileState.FAILED)

    messages = list(watch(stub, file, token_make(me)))

    assert [summary(m)[0] for m in messages] == ["FILE_STATE_FAILED"]


def test_watch_sends_nothing_while_nothing_changes_and_ends_at_the_deadline(
    stub: api_service_pb2_grpc.ApiServiceStub, servicer: ApiServicer
) -> None:
    me = user_make()
    file = file_make(owner=me, state=FileState.PROCESSING)
    stream = watch(stub, file, token_make(me), timeout=1.0)

    first = next(stream)
    with pytest.raises(grpc.RpcError) as raised:
        next(stream)

    assert summary(first)[0] == "FILE_STATE_PROCESSING"
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_for(lambda: not servicer._watches)


def test_a_cancelled_watch_stops_polling_on_the_server(
    stub: api_service_pb2_grpc.ApiServiceStub, servicer: ApiServicer
) -> None:
    me = user_make()
    file = file_make(owner=me, state=FileState.PROCESSING)
    stream = watch(stub, file, token_make(me))
    next(stream)
    assert len(servicer._watches) == 1

    stream.cancel()

    wait_for(lambda: not servicer._watches)


def test_closing_the_servicer_ends_open_watches_with_unavailable(
    stub: api_service_pb2_grpc.ApiServiceStub, servicer: ApiServicer
) -> None:
    me = user_make()
    file = file_make(owner=me, state=FileState.PROCESSING)
    stream = watch(stub, file, token_make(me))
    next(stream)

    servicer.close()

    with pytest.raises(grpc.RpcError) as raised:
        next(stream)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_watch_of_another_users_file_is_not_found(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me, other = user_make(), user_make()
    theirs = file_make(owner=other)

    with pytest.raises(grpc.RpcError) as raised:
        list(watch(stub, theirs, token_make(me)))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_file_deleted_while_watched_ends_the_watch_with_not_found(
    stub: api_service_pb2_grpc.ApiServiceStub,
) -> None:
    me = user_make()
    file = file_make(owner=me, state=FileState.PROCESSING)
    stream = watch(stub, file, token_make(me))
    next(stream)

    File.objects.filter(pk=file.pk).delete()

    with pytest.raises(grpc.RpcError) as raised:
        next(stream)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
