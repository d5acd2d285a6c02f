"""Every call needs the service token; health and reflection answer with it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from storage_service.tests.conftest import TOKEN
from usp.grpc_auth import service_metadata
from usp.v1 import common_pb2, storage_service_pb2, storage_service_pb2_grpc

SHA = "0" * 64


@pytest.fixture
def channel(target: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(target) as opened:
        yield opened


def write_object(channel: grpc.Channel, metadata: Any) -> None:
    stub = storage_service_pb2_grpc.StorageServiceStub(channel)
    requests = iter(
        [
            storage_service_pb2.WriteObjectRequest(
                header=storage_service_pb2.WriteHeader(file_id="file-1")
            ),
            storage_service_pb2.WriteObjectRequest(chunk=b"bytes"),
        ]
    )
    stub.WriteObject(requests, metadata=metadata, timeout=5)


def store_result(channel: grpc.Channel, metadata: Any) -> None:
    stub = storage_service_pb2_grpc.StorageServiceStub(channel)
    key = storage_service_pb2.ResultKey(input_sha256=SHA, step="image.thumbnail", version=1)
    header = storage_service_pb2.StoreResultHeader(key=key, file_id="file-1", job_id="job-1")
    requests = iter(
        [
            storage_service_pb2.StoreResultRequest(header=header),
            storage_service_pb2.StoreResultRequest(
                derivative=storage_service_pb2.DerivativeStart(kind="thumbnail-256")
            ),
            storage_service_pb2.StoreResultRequest(chunk=b"bytes"),
        ]
    )
    stub.StoreResult(requests, metadata=metadata, timeout=5)


def read_object(channel: grpc.Channel, metadata: Any) -> None:
    stub = storage_service_pb2_grpc.StorageServiceStub(channel)
    request = storage_service_pb2.ReadObjectRequest(checksum=common_pb2.Checksum(sha256=SHA))
    list(stub.ReadObject(request, metadata=metadata, timeout=5))


def stat_object(channel: grpc.Channel, metadata: Any) -> None:
    stub = storage_service_pb2_grpc.StorageServiceStub(channel)
    request = storage_service_pb2.StatObjectRequest(checksum=common_pb2.Checksum(sha256=SHA))
    stub.StatObject(request, metadata=metadata, timeout=5)


def delete_file(channel: grpc.Channel, metadata: Any) -> None:
    stub = storage_service_pb2_grpc.StorageServiceStub(channel)
    stub.DeleteFile(
        storage_service_pb2.DeleteFileRequest(file_id="file-1"), metadata=metadata, timeout=5
    )


def create_upload_session(channel: grpc.Channel, metadata: Any) -> None:
    stub = storage_service_pb2_grpc.StorageServiceStub(channel)
    request = storage_service_pb2.CreateUploadSessionRequest(
        file_id="file-1", owner_id="user-1", size=5
    )
    stub.CreateUploadSession(request, metadata=metadata, timeout=5)


def abort_upload_session(channel: grpc.Channel, metadata: Any) -> None:
    stub = storage_service_pb2_grpc.StorageServiceStub(channel)
    request = storage_service_pb2.AbortUploadSessionRequest(file_id="file-1")
    stub.AbortUploadSession(request, metadata=metadata, timeout=5)


def health_check(channel: grpc.Channel, metadata: Any) -> Any:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=""), metadata=metadata, timeout=5)


def health_watch(channel: grpc.Channel, metadata: Any) -> Any:
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service="usp.v1.StorageService")
    return next(stub.Watch(request, metadata=metadata, timeout=5))


def list_services(channel: grpc.Channel, metadata: Any) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    response = next(stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=5))
    return [service.name for service in response.list_services_response.service]


CALLS: dict[str, Callable[[grpc.Channel, Any], Any]] = {
    "write (client streaming)": write_object,
    "store result (client streaming)": store_result,
    "read (server streaming)": read_object,
    "stat (unary)": stat_object,
    "delete (unary)": delete_file,
    "create upload session (unary)": create_upload_session,
    "abort upload session (unary)": abort_upload_session,
    "health check": health_check,
    "health watch (server streaming)": health_watch,
    "reflection (bidirectional)": list_services,
}
CREDENTIALS = {"no token": None, "wrong token": service_metadata("not-the-token")}


@pytest.mark.parametrize("metadata", CREDENTIALS.values(), ids=CREDENTIALS.keys())
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_every_call_without_the_service_token_is_unauthenticated(
    channel: grpc.Channel, call: Callable[[grpc.Channel, Any], Any], metadata: Any
) -> None:
    with pytest.raises(grpc.RpcError) as excinfo:
        call(channel, metadata)

    assert excinfo.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("call", [write_object, store_result], ids=["write", "store result"])
def test_unauthenticated_write_stores_nothing(
    channel: grpc.Channel, call: Callable[[grpc.Channel, Any], Any]
) -> None:
    with pytest.raises(grpc.RpcError):
        call(channel, None)

    stub = storage_service_pb2_grpc.StorageServiceStub(channel)
    checksum = common_pb2.Checksum(sha256=hashlib.sha256(b"bytes").hexdigest())
    with pytest.raises(grpc.RpcError) as excinfo:
        stub.StatObject(
            storage_service_pb2.StatObjectRequest(checksum=checksum),
            metadata=service_metadata(TOKEN),
            timeout=5,
        )
    assert excinfo.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("service", ["", "usp.v1.StorageService"])
def test_health_reports_serving(channel: grpc.Channel, service: str) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    response = stub.Check(
        health_pb2.HealthCheckRequest(service=service),
        metadata=service_metadata(TOKEN),
        timeout=5,
    )

    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_storage_service(channel: grpc.Channel) -> None:
    services = list_services(channel, service_metadata(TOKEN))

    assert sorted(services) == [
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "usp.v1.StorageService",
    ]


def registered_methods(channel: grpc.Channel) -> list[MethodDescriptor]:
    """Every method of every service the server registers, found through reflection and
    the generated descriptors, so a new RPC or service is covered without listing it."""
    pool = descriptor_pool.Default()
    return [
        method
        for name in list_services(channel, service_metadata(TOKEN))
        for method in pool.FindServiceByName(name).methods
    ]


def call_method(channel: grpc.Channel, method: MethodDescriptor, metadata: Any) -> None:
    """Call `method` with an empty request (a stream of one for streaming requests) and
    read its first response; errors surface as grpc.RpcError."""
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    shapes = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }
    make = shapes[(method.client_streaming, method.server_streaming)]
    callable_ = make(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    request = iter([request_class()]) if method.client_streaming else request_class()
    response = callable_(request, metadata=metadata, timeout=5)
    if method.server_streaming:
        next(iter(response), None)


def test_the_enumeration_covers_every_storage_rpc(channel: grpc.Channel) -> None:
    names = {method.full_name for method in registered_methods(channel)}
    storage = storage_service_pb2.DESCRIPTOR.services_by_name["StorageService"]

    assert {method.full_name for method in storage.methods} <= names
    assert "grpc.health.v1.Health.Watch" in names


@pytest.mark.parametrize("metadata", CREDENTIALS.values(), ids=CREDENTIALS.keys())
def test_every_registered_method_refuses_a_call_without_the_service_token(
    channel: grpc.Channel, metadata: Any
) -> None:
    codes = {}
    for method in registered_methods(channel):
        with pytest.raises(grpc.RpcError) as excinfo:
            call_method(channel, method, metadata)
        codes[method.full_name] = excinfo.value.code()

    assert set(codes.values()) == {grpc.StatusCode.UNAUTHENTICATED}, codes


def test_every_registered_method_accepts_the_service_token(channel: grpc.Channel) -> None:
    """The counterpart of the refusals: with the token no call is UNAUTHENTICATED (an
    empty request may still be invalid or name nothing)."""
    codes = {}
    for method in registered_methods(channel):
        try:
            call_method(channel, method, service_metadata(TOKEN))
            codes[method.full_name] = grpc.StatusCode.OK
        except grpc.RpcError as error:
            codes[method.full_name] = error.code()

    assert grpc.StatusCode.UNAUTHENTICATED not in codes.values(), codes
    assert len(codes) >= 12
