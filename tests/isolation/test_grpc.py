"""Isolation over the gRPC ApiService, through a real server and channel.

The methods come from the service descriptor, so a new RPC fails
`test_every_method_of_the_service_is_in_the_table` until CALLS says what it names.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor

from tests.isolation.conftest import ANONYMOUS, EXPIRED, OTHER, OWNER, REVOKED, STAFF, World
from usp.v1 import api_service_pb2
from webapp.apigrpc.auth import UNAUTHENTICATED_MESSAGE
from webapp.apigrpc.server import SERVICE_NAME, create_server
from webapp.apigrpc.servicer import ApiServicer

TIMEOUT = 10
SERVICE = api_service_pb2.DESCRIPTOR.services_by_name["ApiService"]


@dataclass(frozen=True)
class Call:
    """How to ask a method about the owner's file: `names_a_file` when the request
    carries a file id (else the method reads a collection of the caller's)."""

    names_a_file: bool
    request: Callable[[str], Any]


CALLS: dict[str, Call] = {
    "ListFiles": Call(False, lambda _id: api_service_pb2.ListFilesRequest()),
    "GetFile": Call(True, lambda file_id: api_service_pb2.GetFileRequest(id=file_id)),
    "WatchFile": Call(True, lambda file_id: api_service_pb2.WatchFileRequest(id=file_id)),
}


@pytest.fixture
def channel(committed_world: World) -> Iterator[grpc.Channel]:
    servicer = ApiServicer(poll_interval=0.05)
    server, port = create_server("127.0.0.1:0", servicer=servicer)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        servicer.close()
        server.stop(grace=None).wait()


def invoke(channel: grpc.Channel, method: MethodDescriptor, request: Any, key: str) -> list[Any]:
    """Every response of the call (one for a unary method)."""
    output = message_factory.GetMessageClass(method.output_type)
    path = f"/{SERVICE_NAME}/{method.name}"
    metadata = (("authorization", f"Token {key}"),) if key else ()
    if method.server_streaming:
        stream = channel.unary_stream(
            path, request_serializer=_serialize, response_deserializer=output.FromString
        )
        return list(stream(request, timeout=TIMEOUT, metadata=metadata))
    unary = channel.unary_unary(
        path, request_serializer=_serialize, response_deserializer=output.FromString
    )
    return [unary(request, timeout=TIMEOUT, metadata=metadata)]


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def refusal(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code(), raised.value.details()


def file_ids(responses: list[Any]) -> list[str]:
    """The ids of the files the responses carry (a list response, or files)."""
    ids: list[str] = []
    for response in responses:
        files = response.files if hasattr(response, "files") else [response]
        ids += [f.id for f in files]
    return ids


def test_every_method_of_the_service_is_in_the_table() -> None:
    assert sorted(SERVICE.methods_by_name) == sorted(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("actor", [OWNER, OTHER, STAFF, ANONYMOUS, REVOKED, EXPIRED])
def test_method_answers_only_the_owner(
    committed_world: World, channel: grpc.Channel, name: str, actor: str
) -> None:
    world = committed_world
    method = SERVICE.methods_by_name[name]
    call = CALLS[name]
    owned = str(world.file.pk)
    key = world.keys.get(actor, "")

    def ask(file_id: str) -> list[Any]:
        return invoke(channel, method, call.request(file_id), key)

    if actor == OWNER:
        assert owned in file_ids(ask(owned))
    elif actor in (ANONYMOUS, REVOKED, EXPIRED):
        assert refusal(lambda: ask(owned)) == (
            grpc.StatusCode.UNAUTHENTICATED,
            UNAUTHENTICATED_MESSAGE,
        )
    elif call.names_a_file:
        answer = refusal(lambda: ask(owned))
        assert answer == refusal(lambda: ask(str(uuid.uuid4())))
        assert answer == (grpc.StatusCode.NOT_FOUND, "No such file.")
    else:
        theirs = [str(world.other_file.pk)] if actor == OTHER else []
        assert file_ids(ask(owned)) == theirs
