"""Bootstrap of the storage service, started and stopped together: the gRPC server (with
health and reflection), the HTTP data plane for signed upload locations, the outbox relay
thread and the upload sweeper thread.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from datetime import datetime
from typing import Any

import dramatiq
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from storage_service import db
from storage_service.blobs import BlobStore
from storage_service.dataplane.server import DataPlaneServer, bind
from storage_service.objects import Storage
from storage_service.redispatch import JobDispatcher
from storage_service.relay import OutboxRelay, Publisher
from storage_service.results import StepResults
from storage_service.servicer import StorageServicer
from storage_service.settings import Settings
from storage_service.signing import Signer
from storage_service.sweeper import Sweeper
from storage_service.uploads import Uploads
from usp import events, jobs
from usp.grpc_auth import ServiceTokenInterceptor
from usp.grpc_tls import add_port
from usp.message_auth import message_key
from usp.v1 import storage_service_pb2, storage_service_pb2_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = storage_service_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_WORKERS = 32
_SERVING = health_pb2.HealthCheckResponse.SERVING


class StorageServer:
    """A bound (not yet started) storage server; start() and stop() work from any thread.

    `port` is the gRPC port, `http_port` the data plane's, `public_url` the base of the
    upload locations it hands out.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        grpc_server: grpc.Server,
        port: int,
        health_servicer: health.HealthServicer,
        relay: OutboxRelay,
        storage: Storage,
        uploads: Uploads,
        data_plane: DataPlaneServer,
        closers: list[Any],
    ) -> None:
        self.settings = settings
        self.grpc_server = grpc_server
        self.port = port
        self.health = health_servicer
        self.relay = relay
        self.storage = storage
        self.uploads = uploads
        self.data_plane = data_plane
        self.http_port = data_plane.port
        self.public_url = uploads.base_url
        self.sweeper = Sweeper(uploads, interval=settings.upload_sweep_interval)
        self._closers = closers
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=relay.run, args=(self._stop,), name="storage-outbox-relay", daemon=True
            ),
            threading.Thread(
                target=self.sweeper.run, args=(self._stop,), name="storage-sweeper", daemon=True
            ),
        ]

    def start(self) -> None:
        """Migrate the database, serve calls and uploads, relay the outbox, sweep."""
        db.migrate(self.settings.database_url)
        self.grpc_server.start()
        self.data_plane.start()
        for thread in self._threads:
            thread.start()
        self.relay.wake()  # publish whatever an earlier run left pending
        for service in ("", SERVICE_NAME):
            self.health.set(service, _SERVING)
        logger.info(
            "storage service started",
            extra={"fields": {"port": self.port, "http_port": self.http_port}},
        )

    def sweep_once(self, now: datetime | None = None) -> int:
        """Expire the upload sessions abandoned by `now` (default: now); returns how many."""
        return self.uploads.sweep_once(now)

    def stop(self, grace: float | None = None) -> None:
        """Refuse new calls and uploads, let running ones finish within `grace`, then stop
        the relay and the sweeper."""
        self.health.enter_graceful_shutdown()
        self.grpc_server.stop(grace).wait()
        self.data_plane.stop(grace)
        self._stop.set()
        self.relay.wake()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()
        for close in self._closers:
            close()
        logger.info("storage service stopped", extra={"fields": {"port": self.port}})


def create_server(
    settings: Settings,
    *,
    broker: dramatiq.Broker | None = None,
    publisher: Publisher | None = None,
    address: str | None = None,
) -> StorageServer:
    """Build and bind the server (port 0 picks a free port, see `.port` and `.http_port`;
    the data plane binds USP_STORAGE_HTTP_HOST:USP_STORAGE_HTTP_PORT); call start()."""
    closers: list[Any] = []
    if broker is None:
        broker = jobs.make_broker(settings.broker_url)
        closers.append(broker.close)
    signing_key = message_key(settings.service_token)
    if publisher is None:
        event_publisher = events.EventPublisher(
            settings.broker_url, settings.namespace, message_key=signing_key
        )
        closers.append(event_publisher.close)
        publisher = event_publisher
    engine = db.create_engine(settings.database_url)
    closers.append(engine.dispose)
    sessions = db.session_factory(engine)
    relay = OutboxRelay(
        sessions,
        broker,
        publisher,
        message_key=signing_key,
        poll_interval=settings.outbox_poll_interval,
    )
    blobs = BlobStore(settings.blob_dir)
    storage = Storage(
        sessions=sessions, blobs=blobs, namespace=settings.namespace, on_commit=relay.wake
    )
    sock = bind(settings.http_host, settings.http_port)
    uploads = Uploads(
        sessions=sessions,
        blobs=blobs,
        storage=storage,
        signer=Signer(settings.signing_keys),
        base_url=settings.public_base_url(int(sock.getsockname()[1])),
        default_expiry=settings.upload_expiry,
        max_size=settings.max_upload_size,
        on_commit=relay.wake,
    )
    data_plane = DataPlaneServer(
        uploads,
        sock=sock,
        cors_origins=settings.cors_origins,
        timeout=settings.data_plane_timeout,
    )
    servicer = StorageServicer(
        storage,
        uploads,
        StepResults(sessions=sessions, blobs=blobs),
        JobDispatcher(sessions=sessions, namespace=settings.namespace, on_commit=relay.wake),
    )
    grpc_server, health_servicer = _grpc_server(settings, servicer)
    # With TLS files, only clients holding a certificate of the same CA get in.
    port = add_port(
        grpc_server, address or settings.grpc_address, settings.grpc_tls, require_client_auth=True
    )
    return StorageServer(
        settings=settings,
        grpc_server=grpc_server,
        port=port,
        health_servicer=health_servicer,
        relay=relay,
        storage=storage,
        uploads=uploads,
        data_plane=data_plane,
        closers=closers,
    )


def _grpc_server(
    settings: Settings, servicer: StorageServicer
) -> tuple[grpc.Server, health.HealthServicer]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="storage-grpc"),
        interceptors=[ServiceTokenInterceptor(settings.service_token)],
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    storage_service_pb2_grpc.add_StorageServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    return server, health_servicer


def serve(settings: Settings) -> None:
    """Run the storage service until SIGTERM or SIGINT, then stop gracefully."""
    server = create_server(settings)
    server.start()
    stopping = threading.Event()

    def _request_stop(signum: int, _frame: object) -> None:
        logger.info("stop requested", extra={"fields": {"signal": signum}})
        stopping.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    stopping.wait()
    server.stop(settings.grace_period)
