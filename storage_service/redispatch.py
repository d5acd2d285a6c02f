"""Dispatching jobs again for a file already stored: retries and reprocessing.

The messages go through the outbox like an upload's, in one transaction, so a request
that returned is never lost. They run on the reprocess queue, apart from fresh uploads,
unless the caller asks for the fresh queue.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from storage_service import dispatch, pipelines
from storage_service.db import StoredObject
from storage_service.errors import InvalidObject, ObjectNotFound
from storage_service.objects import add_outbox
from storage_service.records import Job, ObjectInfo
from storage_service.refs import lock_original
from usp.jobs import process_queue, reprocess_queue

logger = logging.getLogger(__name__)

MAX_JOB_ID = 64


def _validate(file_id: str, requested: Sequence[Job]) -> None:
    if not file_id:
        raise InvalidObject("file_id is required")
    if not requested:
        raise InvalidObject("at least one job is required")
    pipelines.validate([job.step for job in requested])
    for job in requested:
        if len(job.job_id) > MAX_JOB_ID or not job.job_id.isprintable():
            raise InvalidObject(f"job ids are at most {MAX_JOB_ID} printable characters")


def _assign_ids(requested: Sequence[Job]) -> list[Job]:
    """A retry keeps its job's id; a reprocess gets a new one."""
    return [Job(job.job_id or str(uuid.uuid4()), job.step) for job in requested]


class JobDispatcher:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        namespace: str,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._namespace = namespace
        self._on_commit = on_commit

    def dispatch_jobs(self, *, file_id: str, jobs: Sequence[Job], fresh: bool = False) -> list[Job]:
        """Dispatch one job per entry for a stored file and return them with their ids.

        An entry with a job id runs that job again (a retry: remembered results may
        serve it); one without gets a new id and is forced (a reprocess). Unknown steps
        are InvalidObject; a file without an original is ObjectNotFound.
        """
        _validate(file_id, jobs)
        dispatched = _assign_ids(jobs)
        queue_name = self._queue(fresh)
        with self._sessions.begin() as session:
            obj = _stored_original(session, file_id)
            entries = dispatch.rerun_entries(
                file_id=file_id,
                obj=obj,
                requested=jobs,
                dispatched=dispatched,
                queue_name=queue_name,
            )
            add_outbox(session, entries)
        self._on_commit()
        logger.info(
            "jobs dispatched",
            extra={"fields": _log_fields(file_id, jobs, dispatched, queue_name)},
        )
        return dispatched

    def _queue(self, fresh: bool) -> str:
        if fresh:
            return process_queue(self._namespace)
        return reprocess_queue(self._namespace)


def _stored_original(session: Session, file_id: str) -> ObjectInfo:
    """The file's original, its reference locked so a concurrent delete waits for us."""
    sha256 = lock_original(session, file_id)
    row = None if sha256 is None else session.get(StoredObject, sha256)
    if row is None:
        raise ObjectNotFound(f"file {file_id} has no original object")
    return ObjectInfo(row.sha256, row.size, row.content_type)


def _log_fields(
    file_id: str, requested: Sequence[Job], dispatched: Sequence[Job], queue_name: str
) -> dict[str, object]:
    return {
        "file_id": file_id,
        "queue": queue_name,
        "retried": ",".join(job.job_id for job in requested if job.job_id),
        "new": ",".join(
            job.job_id for asked, job in zip(requested, dispatched, strict=True) if not asked.job_id
        ),
    }
