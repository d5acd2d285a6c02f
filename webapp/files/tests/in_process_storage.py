"""The real storage service (gRPC control plane and tus data plane) started in the
test's own process on free ports, with the webapp's settings pointed at it: the one way
webapp-side tests run it. Its events go straight to the catalog through `event_apply`,
the function the event consumer calls, unless a test brings its own publisher."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dramatiq
from django.db import connection

from usp import jobs
from usp.storage_client import DerivativeUpload, ResultKey, StorageClient, StoredObject
from usp.v1 import common_pb2
from webapp.files.events import event_apply


class CatalogPublisher:
    """Storage's event publisher, replaced by applying each event to the catalog."""

    def publish(self, envelope: common_pb2.EventEnvelope) -> None:
        try:
            event_apply(envelope=envelope)
        finally:
            connection.close()

    def close(self) -> None:
        return None


@contextmanager
def storage_in_process(
    settings: Any,
    data_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    broker: dramatiq.Broker | None = None,
    publisher: Any = None,
    host: str = "127.0.0.1",
    **webapp_settings: Any,
) -> Iterator[Any]:
    """Run storage with its data under `data_dir` (and `environ` over the defaults) until
    the block ends; `settings.USP` reaches it at `host` (plus `webapp_settings`). Yields
    the running server. Without a `broker`, an in-memory one of its own."""
    # Imported here: only the tests that run storage in this process need it.
    from storage_service.server import create_server
    from storage_service.settings import Settings as StorageSettings

    values = {
        "USP_DATA_DIR": str(data_dir),
        "USP_STORAGE_GRPC_PORT": "0",
        "USP_STORAGE_HTTP_PORT": "0",
        "USP_SERVICE_TOKEN": settings.USP.service_token,
        "USP_BROKER_URL": "",
        "USP_STORAGE_OUTBOX_POLL_INTERVAL": "0.05",
        **(environ or {}),
    }
    own_broker = jobs.make_broker("") if broker is None else None
    server = create_server(
        StorageSettings.from_env(values),
        broker=broker or own_broker,
        publisher=publisher or CatalogPublisher(),
    )
    server.start()
    settings.USP = dataclasses.replace(
        settings.USP, storage_grpc_target=f"{host}:{server.port}", **webapp_settings
    )
    try:
        yield server
    finally:
        server.stop(0)
        if own_broker is not None:
            own_broker.close()


def store_derivative(
    client: StorageClient,
    *,
    original_sha256: str,
    file_id: str,
    kind: str,
    data: bytes,
    job_id: str = "",
) -> StoredObject:
    """A derivative of the file with these bytes, stored as a step's result would be (a
    result of a step of the same name as the kind); the object as stored."""
    key = ResultKey(original_sha256, kind, 1, "")
    [stored] = client.store_result(
        key,
        file_id=file_id,
        job_id=job_id,
        metadata={},
        derivatives=[DerivativeUpload(kind, [data], size=len(data))],
    )
    return stored.object
