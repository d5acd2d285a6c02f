"""Uploads that survive what goes wrong: concurrent writers, interrupted and silent
bodies, server restarts, key rotation, abandoned sessions."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import kombu.simple
import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from storage_service.dataplane.body import FLUSH_SIZE
from storage_service.dataplane.server import IO_WORKERS
from storage_service.db import utcnow
from storage_service.server import StorageServer
from storage_service.settings import Settings
from storage_service.tests.conftest import TOKEN, make_settings
from storage_service.tests.tus import (
    abort_session,
    blob_files,
    head,
    offset_of,
    open_session,
    outbox_events,
    partial_path,
    patch,
    running,
    sha,
    stub_for,
    upload_ended,
    with_port,
)
from tests.waiting import wait_for
from usp import events
from usp.storage_client import StorageClient
from usp.v1 import storage_service_pb2, storage_service_pb2_grpc

Stub = storage_service_pb2_grpc.StorageServiceStub
BIG = bytes(range(256)) * (5 * 4096)  # 5 MiB: more than one write batch


def send_head(url: str, *, length: int, offset: int, extra: str = "") -> socket.socket:
    """Open a connection and send a PATCH's head; the caller sends (part of) the body."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall(
        (
            f"PATCH {parts.path}?{parts.query} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {length}\r\n"
            f"{extra}\r\n"
        ).encode()
    )
    return sock


class HeldBody:
    """A request body that sends `first`, then waits for release() before the rest."""

    def __init__(self, first: bytes, rest: bytes) -> None:
        self._first, self._rest = first, rest
        self._released = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        yield self._first
        self._released.wait(30)
        yield self._rest

    def release(self) -> None:
        self._released.set()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def test_second_writer_is_locked_out_while_the_first_streams(
    stub: Stub, settings: Settings, client: StorageClient, pool: ThreadPoolExecutor
) -> None:
    url = open_session(stub, size=len(BIG), declared_sha256=sha(BIG)).upload_url
    body = HeldBody(BIG[: FLUSH_SIZE + 1], BIG[FLUSH_SIZE + 1 :])
    first = pool.submit(patch, url, body, 0)
    partial = partial_path(settings, url)
    wait_for(lambda: partial.stat().st_size >= FLUSH_SIZE, what="the first writer's bytes")

    second = patch(url, BIG, 0)
    during = head(url)
    body.release()

    assert (second.status_code, second.json()["error"]["code"]) == (423, "locked")
    assert (during.status_code, during.headers["Upload-Offset"]) == (200, "0")
    assert first.result(timeout=30).status_code == 204
    assert b"".join(client.read_object(sha(BIG))) == BIG


def test_abort_while_a_body_streams_ends_the_upload_without_an_object(
    stub: Stub, settings: Settings, sessions: sessionmaker[Session], pool: ThreadPoolExecutor
) -> None:
    url = open_session(stub, size=len(BIG)).upload_url
    body = HeldBody(BIG[: FLUSH_SIZE + 1], BIG[FLUSH_SIZE + 1 :])
    first = pool.submit(patch, url, body, 0)
    partial = partial_path(settings, url)
    wait_for(lambda: partial.stat().st_size >= FLUSH_SIZE, what="the writer's bytes")

    assert abort_session(stub, "file-1") is True
    body.release()

    assert first.result(timeout=30).status_code == 404
    assert not partial.exists()
    assert blob_files(settings) == []
    assert outbox_events(sessions) == [upload_ended("aborted")]
    assert abort_session(stub, "file-1") is False


def test_interrupted_patch_keeps_the_bytes_received_and_the_upload_resumes(
    stub: Stub, client: StorageClient
) -> None:
    url = open_session(stub, size=len(BIG), declared_sha256=sha(BIG)).upload_url
    half = len(BIG) // 2
    with send_head(url, length=len(BIG), offset=0) as sock:
        sock.sendall(BIG[:half])

    wait_for(lambda: offset_of(url) == half, what="the kept half")
    response = patch(url, BIG[half:], half)

    assert response.status_code == 204
    assert b"".join(client.read_object(sha(BIG))) == BIG


def test_interrupted_patch_with_a_checksum_keeps_nothing_of_that_chunk(
    stub: Stub, client: StorageClient
) -> None:
    url = open_session(stub, size=len(BIG), declared_sha256=sha(BIG)).upload_url
    assert patch(url, BIG[:100], 0).status_code == 204
    checksum = base64.b64encode(hashlib.sha256(BIG[100:1100]).digest()).decode()
    extra = f"Upload-Checksum: sha256 {checksum}\r\n"
    with send_head(url, length=1000, offset=100, extra=extra) as sock:
        sock.sendall(BIG[100:600])

    # Until the cut request is settled its lock refuses the resume with 423.
    resumed = wait_for(lambda: _unless_locked(patch(url, BIG[100:], 100)), what="the resume")

    assert resumed.status_code == 204
    assert b"".join(client.read_object(sha(BIG))) == BIG


def _unless_locked(response: requests.Response) -> requests.Response | None:
    return None if response.status_code == 423 else response


def test_silent_body_ends_with_408_and_keeps_its_bytes(tmp_path: Path, namespace: str) -> None:
    settings = make_settings(tmp_path, namespace, USP_DATA_PLANE_TIMEOUT="0.3")
    with running(settings) as server, stub_for(server) as stub:
        url = open_session(stub, size=1000).upload_url
        with send_head(url, length=1000, offset=0) as sock:
            sock.sendall(b"x" * 400)
            # Read to the end: the server closes the connection after its answer.
            reply = b"".join(iter(lambda: sock.recv(4096), b""))

        assert reply.startswith(b"HTTP/1.1 408 ")
        assert b"upload-offset: 400\r\n" in reply.lower()
        assert offset_of(url) == 400


def test_stalled_bodies_hold_no_worker_while_another_upload_completes(
    tmp_path: Path, namespace: str
) -> None:
    """More stalled PATCHes than the data plane has I/O threads; another upload completes
    while they wait, then each is cut at the timeout with the bytes it sent kept."""
    settings = make_settings(tmp_path, namespace, USP_DATA_PLANE_TIMEOUT="3")
    with running(settings) as server, stub_for(server) as stub:
        urls = [
            open_session(stub, file_id=f"stalled-{n}", size=1000).upload_url
            for n in range(IO_WORKERS + 1)
        ]
        stalled = [send_head(url, length=1000, offset=0) for url in urls]
        for sock in stalled:
            sock.sendall(b"x" * 400)
        other = open_session(stub, file_id="other", size=len(BIG), declared_sha256=sha(BIG))

        completed = patch(other.upload_url, BIG, 0)
        answered_meanwhile = [_has_reply(sock) for sock in stalled]
        replies = [_read_to_end(sock) for sock in stalled]
        offsets = [offset_of(url) for url in urls]
        for sock in stalled:
            sock.close()

    assert completed.status_code == 204
    assert answered_meanwhile == [False] * len(urls)
    assert {reply.split(b"\r\n", 1)[0] for reply in replies} == {b"HTTP/1.1 408 Request Timeout"}
    assert offsets == [400] * len(urls)


def _has_reply(sock: socket.socket) -> bool:
    """Whether the server has answered (or closed) by now; reads nothing."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) is not None
    except BlockingIOError:
        return False
    finally:
        sock.settimeout(timeout)


def test_upload_resumes_after_a_restart_with_its_digest_rebuilt(
    tmp_path: Path, namespace: str
) -> None:
    settings = make_settings(tmp_path, namespace)
    with running(settings) as server, stub_for(server) as stub:
        url = open_session(stub, size=len(BIG), declared_sha256=sha(BIG)).upload_url
        assert patch(url, BIG[:3_000_000], 0).status_code == 204

    with running(settings) as server:
        moved = with_port(url, server.http_port)
        assert offset_of(moved) == 3_000_000
        assert patch(moved, BIG[3_000_000:], 3_000_000).status_code == 204
        with StorageClient(f"127.0.0.1:{server.port}", TOKEN) as client:
            assert b"".join(client.read_object(sha(BIG))) == BIG


def test_stopping_mid_body_keeps_what_arrived_for_a_resume(tmp_path: Path, namespace: str) -> None:
    settings = make_settings(tmp_path, namespace)
    sent = FLUSH_SIZE + 300_000
    with running(settings) as server, stub_for(server) as stub:
        url = open_session(stub, size=len(BIG), declared_sha256=sha(BIG)).upload_url
        sock = send_head(url, length=len(BIG), offset=0)
        sock.sendall(BIG[:sent])
        partial = partial_path(settings, url)
        wait_for(lambda: partial.stat().st_size >= FLUSH_SIZE, what="bytes on disk")
    sock.close()

    with running(settings) as server:
        moved = with_port(url, server.http_port)
        kept = offset_of(moved)
        assert FLUSH_SIZE <= kept <= sent
        assert partial.read_bytes() == BIG[:kept]
        assert patch(moved, BIG[kept:], kept).status_code == 204
        with StorageClient(f"127.0.0.1:{server.port}", TOKEN) as client:
            assert client.stat_object(sha(BIG)).size == len(BIG)


def test_rotated_keys_still_verify_the_locations_they_signed(
    tmp_path: Path, namespace: str
) -> None:
    old, new = "dev:usp-embedded-upload-signing-key", "k2:a-newer-secret"
    with running(make_settings(tmp_path, namespace)) as server, stub_for(server) as stub:
        url = open_session(stub, size=10).upload_url

    rotated = make_settings(tmp_path, namespace, USP_UPLOAD_SIGNING_KEYS=f"{new},{old}")
    with running(rotated) as server, stub_for(server) as stub:
        assert offset_of(with_port(url, server.http_port)) == 0
        fresh = open_session(stub, file_id="file-2", size=10).upload_url
        assert "kid=k2&" in fresh
        assert offset_of(fresh) == 0

    retired = make_settings(tmp_path, namespace, USP_UPLOAD_SIGNING_KEYS=new)
    with running(retired) as server:
        assert head(with_port(url, server.http_port)).status_code == 403
        assert offset_of(with_port(fresh, server.http_port)) == 0


def test_sweep_expires_abandoned_sessions_and_removes_their_bytes(
    stub: Stub, server: StorageServer, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    url = open_session(stub, size=len(BIG), expires_in_seconds=60).upload_url
    kept = open_session(stub, file_id="file-2", size=10, expires_in_seconds=600).upload_url
    assert patch(url, BIG[:1000], 0).status_code == 204

    assert server.sweep_once(utcnow() + timedelta(seconds=120)) == 1

    assert not partial_path(settings, url).exists()
    assert outbox_events(sessions) == [upload_ended("expired")]
    assert head(url).status_code == 410
    assert offset_of(kept) == 0
    assert partial_path(settings, kept).exists()
    assert server.sweep_once(utcnow() + timedelta(seconds=120)) == 0


def test_sweeper_thread_expires_sessions_on_its_own(tmp_path: Path, namespace: str) -> None:
    settings = make_settings(tmp_path, namespace, USP_UPLOAD_SWEEP_INTERVAL="0.1")
    with running(settings) as server, stub_for(server) as stub:
        url = open_session(stub, size=10, expires_in_seconds=1).upload_url
        partial = partial_path(settings, url)
        assert partial.exists()

        wait_for(lambda: not partial.exists(), timeout=5, what="the sweeper")


def test_sweep_removes_partial_files_no_open_session_owns(
    server: StorageServer, settings: Settings
) -> None:
    orphan = settings.blob_dir / "partial" / ("a" * 32)
    orphan.write_bytes(b"left behind")
    fresh = settings.blob_dir / "partial" / ("b" * 32)
    fresh.write_bytes(b"being created")
    an_hour_ago = time.time() - 3600
    os.utime(orphan, (an_hour_ago, an_hour_ago))

    server.sweep_once()

    assert (orphan.exists(), fresh.exists()) == (False, True)


def test_upload_ended_events_reach_the_event_exchange(
    stub: Stub, event_queue: kombu.simple.SimpleQueue
) -> None:
    url = open_session(stub, size=10).upload_url
    assert requests.delete(url, headers={"Tus-Resumable": "1.0.0"}, timeout=10).status_code == 204

    message = event_queue.get(timeout=5)
    envelope = events.decode(message.body)
    payload = storage_service_pb2.UploadEnded()
    assert envelope.payload.Unpack(payload)
    assert (envelope.type, envelope.file_id, envelope.sequence, payload.reason) == (
        events.UPLOAD_ENDED,
        "file-1",
        0,
        "aborted",
    )
    assert message.delivery_info["routing_key"] == events.UPLOAD_ENDED


def _read_to_end(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)
