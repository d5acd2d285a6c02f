"""The JSON every API response is compared with, built from the rows, and what a
user's quota counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.accounts.models import Usage, User
from webapp.files.models import File, Job


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "file_id": str(job.file_id),
        "step": job.step,
        "state": job.state,
        "attempts": job.attempts,
        "error": job.error,
        "error_code": job.error_code,
        "error_class": job.error_class,
        "next_retry_at": iso(job.next_retry_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }


def file_json(file: File, **overrides: Any) -> dict[str, Any]:
    base = f"http://testserver/api/v1/files/{file.id}"
    body = {
        "id": str(file.id),
        "name": file.name,
        "size": file.size,
        "content_type": file.content_type,
        "sha256": file.sha256,
        "state": file.state,
        "error": file.error,
        "created_at": iso(file.created_at),
        "metadata": file.metadata,
        "jobs": [job_json(job) for job in file.jobs.all()],
        "derivatives": [
            {
                "kind": d.kind,
                "content_type": d.content_type,
                "size": d.size,
                "url": f"{base}/derivatives/{d.kind}",
            }
            for d in file.derivatives.all()
        ],
        "content_url": f"{base}/content",
    }
    return {**body, **overrides}


def usage_of(user: User) -> tuple[int, int]:
    """(bytes, files) counted against `user`'s quotas."""
    row = Usage.objects.filter(user=user).first()
    return (row.bytes_used, row.files_used) if row else (0, 0)
