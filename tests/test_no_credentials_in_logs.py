"""No credential ever reaches a log record: storage over mutual TLS and the processor,
exercised with good and bad credentials while every logger records at DEBUG."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dramatiq
import grpc
import pytest
import requests
from dramatiq.brokers.stub import StubBroker

from processor_service.settings import Settings as ProcessorSettings
from processor_service.worker import create_worker
from storage_service.server import StorageServer, create_server
from storage_service.settings import Settings as StorageSettings
from tests.pki import Pki, make_pki
from tests.waiting import wait_for
from usp import events, jobs
from usp.errors import ServiceError
from usp.message_auth import message_key
from usp.storage_client import StorageClient

DATA = b"bytes whose checksum the processor proves\n" * 1000
TUS = {"Tus-Resumable": "1.0.0"}
LOGGERS = (
    "",
    "grpc",
    "dramatiq",
    "kombu",
    "amqp",
    "uvicorn",
    "storage_service",
    "processor_service",
    "usp",
)


@dataclass
class System:
    storage: StorageServer
    target: str
    token: str
    upload_secret: str
    pki: Pki
    broker: StubBroker
    namespace: str


@pytest.fixture
def system(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[System]:
    """Storage (mutual TLS) and a processor worker sharing an in-memory broker, with
    every logger at DEBUG from the start."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    # As an operator's logging set-up would: a handler on the (otherwise silent) access log.
    access_log = logging.getLogger("uvicorn.access")
    access_log.addHandler(caplog.handler)
    pki = make_pki(tmp_path / "pki")
    token = f"service-token-{uuid.uuid4().hex}"
    upload_secret = f"upload-secret-{uuid.uuid4().hex}"
    namespace = f"usp-test-{uuid.uuid4().hex[:10]}"
    storage_settings = StorageSettings.from_env(
        {
            "USP_DATA_DIR": str(tmp_path / "data"),
            "USP_SERVICE_TOKEN": token,
            "USP_BROKER_NAMESPACE": namespace,
            "USP_STORAGE_HTTP_PORT": "0",
            "USP_STORAGE_OUTBOX_POLL_INTERVAL": "0.05",
            "USP_UPLOAD_SIGNING_KEYS": f"k1:{upload_secret}",
            **pki.env(),
        }
    )
    broker = StubBroker()
    publisher = events.EventPublisher("", namespace, message_key=message_key(token))
    storage = create_server(
        storage_settings, broker=broker, publisher=publisher, address="127.0.0.1:0"
    )
    storage.start()
    target = f"localhost:{storage.port}"
    worker = create_worker(
        ProcessorSettings(
            storage_target=target,
            service_token=token,
            namespace=namespace,
            worker_threads=1,
            max_retries=0,
            grpc_tls=pki.service,
        ),
        broker=broker,
    )
    worker.worker_timeout = 50
    worker.start()
    try:
        yield System(storage, target, token, upload_secret, pki, broker, namespace)
    finally:
        worker.stop(timeout=5_000)
        storage.stop(0)
        publisher.close()
        broker.close()
        access_log.removeHandler(caplog.handler)


def exercise(system: System) -> str:
    """Calls with good and bad credentials of every kind; returns the upload URL's
    signature."""
    queue = jobs.process_queue(system.namespace)
    with StorageClient(system.target, system.token, tls=system.pki.service) as client:
        written = client.write_object([DATA], file_id="file-logs", pipeline=["checksum"])
        assert b"".join(client.read_object(written.object.sha256)) == DATA
        session = client.create_upload_session(
            file_id="file-upload", owner_id="user-1", name="a.bin", size=len(DATA)
        )
    wait_for(lambda: queue in system.broker.queues, what="the job message")
    system.broker.join(queue, fail_fast=False, timeout=30_000)

    with StorageClient(system.target, "not-the-token", tls=system.pki.service) as intruder:
        with pytest.raises(ServiceError) as refused:
            intruder.stat_object(written.object.sha256)
        assert refused.value.status == grpc.StatusCode.UNAUTHENTICATED
    forged: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue,
        actor_name=jobs.PROCESS_ACTOR,
        args=({"job_id": "forged"},),
        kwargs={},
        options={},
        message_id="forged",
    )
    system.broker.enqueue(forged)
    system.broker.join(queue, fail_fast=False, timeout=30_000)

    url = session.upload_url
    patched = requests.patch(
        url,
        data=DATA,
        headers={**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
        timeout=10,
    )
    assert patched.status_code == 204, patched.text
    signature = parse_qs(urlsplit(url).query)["sig"][0]
    tampered = url.replace(f"sig={signature}", "sig=" + "A" * len(signature))
    assert requests.head(tampered, headers=TUS, timeout=10).status_code == 403
    return signature


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could print of `record`."""
    parts = [record.getMessage(), repr(record.__dict__)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def test_no_token_key_signature_or_private_key_reaches_any_log_record(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    signature = exercise(system)

    key = message_key(system.token)
    secrets = {
        "service token": system.token,
        "message key (hex)": key.hex(),
        "message key (base64)": base64.b64encode(key).decode(),
        "message key (repr)": repr(key)[2:-1],
        "upload signing secret": system.upload_secret,
        "upload URL signature": signature,
        **{f"private key {n}": text for n, text in enumerate(system.pki.secrets())},
    }
    # urllib3's records are this test's own HTTP client (requests) logging the URLs it
    # was given; no service logs through it.
    texts = [record_text(r) for r in caplog.records if not r.name.startswith("urllib3")]
    leaks = {
        name: [text[:200] for text in texts if secret in text]
        for name, secret in secrets.items()
        if any(secret in text for text in texts)
    }
    assert leaks == {}

    # What was recorded shows the calls happened and were logged at DEBUG.
    messages = {record.getMessage() for record in caplog.records}
    assert {"job message refused", "job succeeded", "upload request refused"} <= messages
    access = [r for r in caplog.records if r.name == "uvicorn.access"]
    assert [str(r.args[2]).rsplit("&", 1)[-1] for r in access] == ["sig=[redacted]"] * 2  # type: ignore[index]
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
