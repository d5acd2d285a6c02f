"""Bootstrap of the processor: a Dramatiq worker consuming `<namespace>.process` (fresh
uploads) and `<namespace>.reprocess` (retries and reprocessing), one actor for both.

`create_worker` / `start` serve callers that run the processor in a thread of their
own process (the embedded run); `run` is the blocking entry of a processor process.
"""

from __future__ import annotations

import logging
import signal
import threading

import dramatiq
from dramatiq.middleware import CurrentMessage, TimeLimit
from dramatiq.worker import ConsumerThread

from processor_service import authentication, sandbox
from processor_service.actors import declare_actors
from processor_service.settings import Settings
from usp import jobs
from usp.events import EventPublisher
from usp.message_auth import message_key
from usp.storage_client import StorageClient

logger = logging.getLogger(__name__)


def create_worker(
    settings: Settings,
    *,
    broker: dramatiq.Broker | None = None,
    storage: StorageClient | None = None,
    publisher: EventPublisher | None = None,
) -> dramatiq.Worker:
    """A worker (not started) for both queues, its actor declared on `broker`."""
    broker = broker or jobs.make_broker(settings.broker_url)
    authentication.install(broker, message_key(settings.service_token))
    if not any(isinstance(middleware, CurrentMessage) for middleware in broker.middleware):
        broker.add_middleware(CurrentMessage())
    declare_actors(broker, settings, storage=storage, publisher=publisher)
    # The actor lives on the fresh queue; messages on the reprocess queue name it too.
    broker.declare_queue(jobs.reprocess_queue(settings.namespace))
    _start_time_limits(broker)
    dramatiq.set_broker(broker)
    return ProcessorWorker(
        broker,
        fresh_queue=jobs.process_queue(settings.namespace),
        reprocess_queue=jobs.reprocess_queue(settings.namespace),
        worker_threads=settings.worker_threads,
        reprocess_threads=settings.reprocess_share,
    )


class ProcessorWorker(dramatiq.Worker):
    """A worker on the fresh queue and the reprocess queue whose reprocessing can never
    hold up a fresh upload's jobs.

    Dramatiq hands a queue's consumer at most `prefetch` unacknowledged messages, and a
    message stays unacknowledged until a worker thread has finished it (RabbitMQ's
    basic.qos; the stub broker counts the same way). The reprocess queue's consumer gets
    a prefetch of `reprocess_threads`, fewer than the worker's threads, so at most that
    many reprocess messages are waiting or running at any moment however long its
    backlog: the other threads are always free for fresh uploads, which wait only behind
    other fresh jobs. The fresh queue keeps Dramatiq's usual prefetch (twice the threads)
    and may use every thread the reprocess queue leaves idle. Retries of a reprocess job
    come back to the reprocess queue (through its delay queue) and stay in its share.
    With a single worker thread both queues share it, and a fresh job waits for at most
    the one reprocess job in hand. The per-queue prefetch overrides Dramatiq's
    `_add_consumer`; test_queues and test_rabbitmq fail if a Dramatiq upgrade changes it.
    """

    def __init__(
        self,
        broker: dramatiq.Broker,
        *,
        fresh_queue: str,
        reprocess_queue: str,
        worker_threads: int,
        reprocess_threads: int,
    ) -> None:
        super().__init__(
            broker, queues={fresh_queue, reprocess_queue}, worker_threads=worker_threads
        )
        self.reprocess_queue = reprocess_queue
        self.reprocess_prefetch = reprocess_threads

    def _add_consumer(self, queue_name: str, *, delay: bool = False) -> None:
        # Dramatiq gives every queue the same prefetch; this queue gets its own.
        if delay or queue_name != self.reprocess_queue or queue_name in self.consumers:
            super()._add_consumer(queue_name, delay=delay)
            return
        consumer = self.consumers[queue_name] = ConsumerThread(
            broker=self.broker,
            queue_name=queue_name,
            prefetch=self.reprocess_prefetch,
            work_queue=self.work_queue,
            worker_timeout=self.worker_timeout,
        )
        consumer.start()


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
        extra={
            "fields": {
                "queues": f"{jobs.process_queue(settings.namespace)},"
                f"{jobs.reprocess_queue(settings.namespace)}",
                "threads": settings.worker_threads,
                "reprocess_threads": settings.reprocess_share,
            }
        },
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
