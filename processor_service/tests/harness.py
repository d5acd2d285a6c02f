"""A worker on the StubBroker and the helpers to read the events it publishes."""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from google.protobuf import json_format

from processor_service.settings import Settings
from processor_service.worker import create_worker
from usp import jobs
from usp.message_auth import message_key, sign_message
from usp.v1 import common_pb2, processor_service_pb2

FILE_ID = "file-1"


class Harness:
    """A StubBroker with a started worker, and the way storage enqueues a task; as a
    context manager, the worker is stopped at the end of the block."""

    def __init__(self, settings: Settings) -> None:
        self.key = message_key(settings.service_token)
        self.broker = StubBroker()
        self.queue = jobs.process_queue(settings.namespace)
        self.reprocess_queue = jobs.reprocess_queue(settings.namespace)
        self.worker = create_worker(settings, broker=self.broker)
        # Idle threads wake up this often; short, so that stopping and delayed retries are quick.
        self.worker.worker_timeout = 50
        self.worker.start()

    def process(self, step: str, obj: common_pb2.ObjectInfo) -> str:
        """Enqueue one task as storage does and wait until it is settled."""
        job_id = self.submit(step, obj)
        self.settle()
        return job_id

    def submit(
        self,
        step: str,
        obj: common_pb2.ObjectInfo,
        *,
        file_id: str = FILE_ID,
        job_id: str = "",
        force: bool = False,
        reprocess: bool = False,
    ) -> str:
        """Enqueue one task as storage does, without waiting for it: on the reprocess
        queue when `reprocess`, with a new job id unless one is given."""
        job_id = job_id or str(uuid.uuid4())
        task = processor_service_pb2.ProcessTask(
            job_id=job_id, file_id=file_id, step=step, input=obj, force=force
        )
        payload = json_format.MessageToDict(task, preserving_proto_field_name=True)
        self.send(payload, job_id, queue=self.reprocess_queue if reprocess else self.queue)
        return job_id

    def enqueue(self, payload: Any, job_id: str) -> None:
        self.send(payload, job_id)
        self.settle()

    def send(self, payload: Any, job_id: str, *, queue: str = "") -> None:
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=queue or self.queue,
            actor_name=jobs.PROCESS_ACTOR,
            args=(payload,),
            kwargs={},
            options={},
            message_id=job_id,
        )
        self.broker.enqueue(sign_message(message, self.key))

    def settle(self, timeout_ms: int = 60_000) -> None:
        """Wait until every enqueued message on both queues, retries included, is done."""
        for queue in (self.reprocess_queue, self.queue):
            self.broker.join(queue, fail_fast=False, timeout=timeout_ms)
        self.worker.join()

    def stop(self) -> None:
        self.worker.stop(timeout=5_000)

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def payload(envelope: common_pb2.EventEnvelope) -> Any:
    types = {
        "job.started": processor_service_pb2.JobStarted,
        "job.succeeded": processor_service_pb2.JobSucceeded,
        "job.failed": processor_service_pb2.JobFailed,
    }
    message = types[envelope.type]()
    assert envelope.payload.Unpack(message)
    return message


def as_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def summary(envelopes: list[common_pb2.EventEnvelope]) -> list[tuple[str, str, str, int]]:
    return [(e.type, e.file_id, e.job_id, e.sequence) for e in envelopes]


def outcomes(envelopes: list[common_pb2.EventEnvelope]) -> dict[str, list[tuple[Any, ...]]]:
    """Per job: (event type, attempt, error code or "", will_retry) of each end event."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    for envelope in envelopes:
        if envelope.type == "job.started":
            continue
        body = payload(envelope)
        code = body.error.code if envelope.type == "job.failed" else ""
        retry = body.will_retry if envelope.type == "job.failed" else False
        result.setdefault(envelope.job_id, []).append((envelope.type, body.attempt, code, retry))
    return result
