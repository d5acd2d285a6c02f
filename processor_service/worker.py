"""Bootstrap of the processor: a Dramatiq worker consuming `<namespace>.process`.

`create_worker` / `start` serve callers that run the processor in a thread of their
own process (the embedded run); `run` is the blocking entry of a processor process.
"""

from __future__ import annotations

import logging
import signal
import threading

import dramatiq
from dramatiq.middleware import CurrentMessage, TimeLimit

from processor_service import sandbox
from processor_service.actors import declare_actors
from processor_service.settings import Settings
from usp import jobs
from usp.events import EventPublisher
from usp.storage_client import StorageClient

logger = logging.getLogger(__name__)


def create_worker(
    settings: Settings,
    *,
    broker: dramatiq.Broker | None = None,
    storage: StorageClient | None = None,
    publisher: EventPublisher | None = None,
) -> dramatiq.Worker:
    """A worker (not started) for the processing queue, its actor declared on `broker`."""
    broker = broker or jobs.make_broker(settings.broker_url)
    if not any(isinstance(middleware, CurrentMessage) for middleware in broker.middleware):
        broker.add_middleware(CurrentMessage())
    declare_actors(broker, settings, storage=storage, publisher=publisher)
    _start_time_limits(broker)
    dramatiq.set_broker(broker)
    return dramatiq.Worker(
        broker,
        queues={jobs.process_queue(settings.namespace)},
        worker_threads=settings.worker_threads,
    )


def _start_time_limits(broker: dramatiq.Broker) -> None:
    """Start the TimeLimit watchdog thread, once per broker.

    Dramatiq starts it on the "process_boot" signal, which only its own command line
    emits; without this a worker started from code would never enforce time limits.
    """
    for middleware in broker.middleware:
        manager = (
            getattr(middleware, "manager", None) if isinstance(middleware, TimeLimit) else None
        )
        if isinstance(manager, threading.Thread) and manager.ident is None:
            manager.start()


def start(
    settings: Settings,
    *,
    broker: dramatiq.Broker | None = None,
    storage: StorageClient | None = None,
    publisher: EventPublisher | None = None,
) -> dramatiq.Worker:
    """Create and start a worker; stop it with `worker.stop(timeout_ms)`."""
    worker = create_worker(settings, broker=broker, storage=storage, publisher=publisher)
    sandbox.warm_up()
    worker.start()
    logger.info(
        "processor worker started",
        extra={"fields": {"queue": jobs.process_queue(settings.namespace)}},
    )
    return worker


def run(settings: Settings) -> None:
    """Run a worker until SIGTERM or SIGINT, then let running jobs finish and stop."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    worker = start(settings)
    stopping.wait()
    logger.info("processor worker stopping")
    worker.stop(timeout=settings.shutdown_timeout_ms)
    worker.broker.close()
    logger.info("processor worker stopped")
