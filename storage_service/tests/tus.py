"""Helpers for data plane tests: opening sessions over gRPC, tus requests, outbox events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import grpc
import requests
import sqlalchemy as sa
from google.protobuf import message as protobuf_message
from sqlalchemy.orm import Session, sessionmaker

from storage_service import db
from storage_service.server import StorageServer, create_server
from storage_service.settings import Settings
from storage_service.tests.conftest import TOKEN, FlakyBroker
from usp import events
from usp.grpc_auth import service_metadata
from usp.message_auth import message_key
from usp.v1 import storage_service_pb2, storage_service_pb2_grpc

Stub = storage_service_pb2_grpc.StorageServiceStub
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}
METADATA = service_metadata(TOKEN)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def running(settings: Settings) -> Iterator[StorageServer]:
    publisher = events.EventPublisher(
        "", settings.namespace, message_key=message_key(settings.service_token)
    )
    server = create_server(
        settings, broker=FlakyBroker(), publisher=publisher, address="127.0.0.1:0"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop(0)
        publisher.close()


@contextmanager
def stub_for(server: StorageServer) -> Iterator[Stub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield storage_service_pb2_grpc.StorageServiceStub(channel)


def open_session(
    stub: storage_service_pb2_grpc.StorageServiceStub, **fields: Any
) -> storage_service_pb2.UploadSession:
    request = storage_service_pb2.CreateUploadSessionRequest(
        **{"file_id": "file-1", "owner_id": "user-1", "name": "data.txt", **fields}
    )
    return stub.CreateUploadSession(request, metadata=METADATA, timeout=5)


def abort_session(stub: storage_service_pb2_grpc.StorageServiceStub, file_id: str) -> bool:
    request = storage_service_pb2.AbortUploadSessionRequest(file_id=file_id)
    return bool(stub.AbortUploadSession(request, metadata=METADATA, timeout=5).aborted)


def head(url: str) -> requests.Response:
    return requests.head(url, headers=TUS, timeout=10)


def patch(url: str, body: Any, offset: int, **headers: str) -> requests.Response:
    merged = {**OCTETS, "Upload-Offset": str(offset), **headers}
    return requests.patch(url, data=body, headers=merged, timeout=30)


def offset_of(url: str) -> int:
    response = head(url)
    assert response.status_code == 200, response.status_code
    return int(response.headers["Upload-Offset"])


def with_query(url: str, **changes: str) -> str:
    """The URL with some query parameters replaced (a tampered location)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def session_id_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def partial_path(settings: Settings, url: str) -> Path:
    return settings.blob_dir / "partial" / session_id_of(url)


def blob_files(settings: Settings) -> list[Path]:
    return sorted(path for path in (settings.blob_dir / "objects").rglob("*") if path.is_file())


@dataclass(frozen=True)
class Event:
    type: str
    file_id: str
    payload: protobuf_message.Message


_PAYLOADS: Mapping[str, type[protobuf_message.Message]] = {
    events.FILE_STORED: storage_service_pb2.FileStored,
    events.UPLOAD_ENDED: storage_service_pb2.UploadEnded,
}


def outbox_events(sessions: sessionmaker[Session]) -> list[Event]:
    """The events committed to the outbox, oldest first, with their decoded payloads."""
    with sessions() as session:
        rows = session.scalars(
            sa.select(db.OutboxMessage)
            .where(db.OutboxMessage.kind == "event")
            .order_by(db.OutboxMessage.id)
        ).all()
    decoded = []
    for row in rows:
        envelope = events.decode(row.body)
        payload = _PAYLOADS[envelope.type]()
        envelope.payload.Unpack(payload)
        decoded.append(Event(envelope.type, envelope.file_id, payload))
    return decoded


def job_rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        query = sa.select(sa.func.count()).where(db.OutboxMessage.kind == "job")
        return int(session.scalar(query) or 0)


def upload_ended(reason: str, code: str = "", message: str = "") -> Event:
    payload = storage_service_pb2.UploadEnded(reason=reason)
    if code:
        payload.error.code, payload.error.message = code, message
    return Event(events.UPLOAD_ENDED, "file-1", payload)
