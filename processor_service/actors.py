"""The one Dramatiq actor, `usp.process_step`, declared on a broker at bootstrap.

Declaring at bootstrap (not at import) lets the caller choose the broker, the settings
and, in the embedded run, inject the storage client and event publisher it shares.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import dramatiq
from dramatiq.middleware import CurrentMessage, Middleware
from dramatiq.middleware.time_limit import TimeLimitExceeded

from processor_service import protocol
from processor_service.processing import Task, describe_failure, run_task
from processor_service.reporting import JobReporter
from processor_service.sandbox import (
    DecoderFailure,
    Sandbox,
    SandboxLimits,
    end_idle_decoders,
    limits_for,
)
from processor_service.settings import Settings
from processor_service.sharing import HostShare
from processor_service.steps import PermanentError, StepOptions
from usp import config, jobs
from usp.events import EventPublisher
from usp.message_auth import message_key
from usp.storage_client import StorageClient

logger = logging.getLogger(__name__)


class _Closeable(Protocol):
    def close(self) -> None: ...


def declare_actors(
    broker: dramatiq.Broker,
    settings: Settings,
    *,
    storage: StorageClient | None = None,
    publisher: EventPublisher | None = None,
) -> dramatiq.Actor[[dict[str, Any]], None]:
    """Declare the processing actor (and its queue) on `broker` and return it.

    A storage client or publisher created here is closed when the worker shuts down;
    injected ones stay the caller's to close.
    """
    owned: list[_Closeable] = []
    if storage is None:
        storage = StorageClient(
            settings.storage_target, settings.service_token, tls=settings.grpc_tls
        )
        owned.append(storage)
    if publisher is None:
        publisher = EventPublisher(
            settings.broker_url, settings.namespace, message_key=message_key(settings.service_token)
        )
        owned.append(publisher)
    reporter = JobReporter(publisher, started_delay=settings.job_started_delay_ms / 1000)
    turns = decoder_turns(settings, owned)
    # The reporter first: it publishes through the publisher.
    broker.add_middleware(_CloseOnShutdown([reporter, *owned]))
    handler = JobHandler(storage=storage, reporter=reporter, settings=settings, turns=turns)
    return _declare(broker, settings, handler)


def decoder_turns(settings: Settings, owned: list[_Closeable]) -> Callable[[], int]:
    """How many decoders may work at once: USP_DECODER_CONCURRENCY when it is set, else
    this processor's share of the host's CPUs (its slot is one of `owned`)."""
    if settings.decoder_concurrency:
        return lambda: settings.decoder_concurrency
    share = HostShare(settings.decoder_share_dir, config.usable_cores())
    owned.append(share)
    return share.turns


def _declare(
    broker: dramatiq.Broker, settings: Settings, handler: JobHandler
) -> dramatiq.Actor[[dict[str, Any]], None]:
    def process_step(task: dict[str, Any]) -> None:
        handler.handle(task, attempt=current_attempt(), max_retries=current_max_retries(settings))

    declare = dramatiq.actor(
        broker=broker,
        actor_name=jobs.PROCESS_ACTOR,
        queue_name=jobs.process_queue(settings.namespace),
        max_retries=settings.max_retries,
        min_backoff=settings.min_backoff_ms,
        max_backoff=settings.max_backoff_ms,
        time_limit=settings.step_time_limit_ms,
        throws=(PermanentError,),
    )
    return declare(process_step)


def current_attempt() -> int:
    """1 for the first delivery of the current message, n+1 after n retries."""
    message = CurrentMessage.get_current_message()
    return 1 if message is None else int(message.options.get("retries", 0)) + 1


def current_max_retries(settings: Settings) -> int:
    message = CurrentMessage.get_current_message()
    options = {} if message is None else message.options
    return int(options.get("max_retries", settings.max_retries))


class JobHandler:
    """The actor's body: parse, report the start, run, report the end."""

    def __init__(
        self,
        *,
        storage: StorageClient,
        reporter: JobReporter,
        settings: Settings,
        turns: Callable[[], int],
    ) -> None:
        self._storage = storage
        self._reporter = reporter
        self._options = step_options(settings)
        self._sandbox = Sandbox(sandbox_limits(settings), turns=turns)
        self._max_crashes = settings.decoder_max_crashes

    def handle(self, payload: Any, *, attempt: int, max_retries: int) -> None:
        """Raises PermanentError (never retried) or anything else (retried)."""
        task = _parse(payload)
        began = self._reporter.started(task, attempt=attempt)
        try:
            outcome = run_task(
                task, storage=self._storage, options=self._options, sandbox=self._sandbox
            )
        except (Exception, TimeLimitExceeded) as error:
            failure = describe_failure(error, attempt=attempt, max_crashes=self._max_crashes)
            will_retry = failure.transient and attempt <= max_retries
            self._reporter.failed(began, error=failure, will_retry=will_retry)
            if isinstance(error, DecoderFailure) and not failure.transient:
                raise PermanentError(failure.code, failure.message) from error
            raise
        self._reporter.succeeded(began, outcome=outcome)


def step_options(settings: Settings) -> StepOptions:
    return StepOptions(
        thumbnail_sizes=settings.thumbnail_sizes,
        thumbnail_format=settings.thumbnail_format,
        max_pixels=settings.max_pixels,
        archive_max_entries=settings.archive_max_entries,
        archive_max_total=settings.archive_max_total,
        archive_max_ratio=settings.archive_max_ratio,
        time_limit_s=settings.step_time_limit_ms / 1000,
    )


def sandbox_limits(settings: Settings) -> SandboxLimits:
    return limits_for(
        memory_bytes=settings.decoder_memory_limit,
        time_limit_ms=settings.step_time_limit_ms,
        jobs_per_process=settings.decoder_jobs_per_process,
    )


def _parse(payload: Any) -> Task:
    try:
        return protocol.parse_task(payload)
    except PermanentError as error:
        logger.error("malformed task refused", extra={"fields": {"reason": error.message}})
        raise


class _CloseOnShutdown(Middleware):
    """Closes what the actor declaration created (its reporter, and the clients it did
    not get injected), in order, and ends the idle decoders, once the worker has
    stopped."""

    def __init__(self, resources: Sequence[_Closeable]) -> None:
        self._resources = list(resources)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        for resource in self._resources:
            resource.close()
        end_idle_decoders()
