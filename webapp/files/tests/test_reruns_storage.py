"""Retry and reprocess against the real storage service: its DispatchJobs puts the
processor's messages on the reprocess queue, under the ids the catalog records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from google.protobuf.json_format import ParseDict
from rest_framework.test import APIClient

from tests.waiting import wait_for
from usp import events, jobs
from usp.v1 import common_pb2, processor_service_pb2
from webapp.accounts.models import User
from webapp.files.events import event_apply
from webapp.files.models import File, FileState, Job, JobState
from webapp.files.tests.in_process_storage import storage_in_process

pytestmark = pytest.mark.django_db(transaction=True)

NAMESPACE = "usp-reruns"


@pytest.fixture
def broker() -> Iterator[dramatiq.Broker]:
    broker = jobs.make_broker("")
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def real_storage(settings: Any, tmp_path: Path, broker: dramatiq.Broker) -> Iterator[None]:
    """The storage service on a free port, its events applied straight to the catalog."""
    with storage_in_process(
        settings, tmp_path / "storage", environ={"USP_BROKER_NAMESPACE": NAMESPACE}, broker=broker
    ):
        yield


def tasks_on(broker: dramatiq.Broker, queue_name: str) -> list[processor_service_pb2.ProcessTask]:
    queue = broker.queues.get(queue_name)  # type: ignore[attr-defined]
    messages = [] if queue is None else [dramatiq.Message.decode(b) for b in list(queue.queue)]
    return [ParseDict(m.args[0], processor_service_pb2.ProcessTask()) for m in messages]


def fail(job: Job) -> None:
    payload = processor_service_pb2.JobFailed(
        attempt=1,
        step=job.step,
        error=common_pb2.ErrorInfo(code="unreadable", message="cannot read it"),
    )
    envelope = events.make_envelope(
        events.JOB_FAILED, file_id=str(job.file_id), job_id=str(job.id), payload=payload, attempt=1
    )
    event_apply(envelope=envelope)


def test_retry_and_reprocess_put_their_jobs_on_storages_reprocess_queue(
    api_client: APIClient, user: User, real_storage: None, broker: dramatiq.Broker
) -> None:
    upload = SimpleUploadedFile("notes.txt", b"shopping list\n")
    response = api_client.post("/api/v1/files/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    file = File.objects.get(owner=user)
    first = Job.objects.filter(file=file).order_by("position").first()
    assert first is not None
    fail(first)
    reprocess_queue = jobs.reprocess_queue(NAMESPACE)

    retried = api_client.post(f"/api/v1/jobs/{first.id}/retry/")
    retry_tasks = wait_for(lambda: tasks_on(broker, reprocess_queue), what="the retry's task")
    reprocessed = api_client.post(
        f"/api/v1/files/{file.id}/reprocess/", {"steps": ["checksum"]}, format="json"
    )
    all_tasks = wait_for(
        lambda: (t := tasks_on(broker, reprocess_queue)) and len(t) == 2 and t,
        what="the reprocess's task",
    )

    assert (retried.status_code, reprocessed.status_code) == (202, 202)
    assert [(t.job_id, t.step, t.force) for t in retry_tasks] == [
        (str(first.id), first.step, False)
    ]
    new = Job.objects.get(file=file, step="checksum", superseded=False)
    assert [(t.job_id, t.step, t.force, t.file_id) for t in all_tasks[1:]] == [
        (str(new.id), "checksum", True, str(file.id))
    ]
    assert Job.objects.get(pk=first.pk).state == JobState.QUEUED
    assert File.objects.get(pk=file.pk).state == FileState.PROCESSING
