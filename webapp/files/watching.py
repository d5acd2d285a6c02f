"""Following one file until its processing ends, by polling the catalog.

The catalog is written by the event consumer, possibly in another process, so polling
the database is the one signal every deployment shares.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from django.db import close_old_connections

from webapp.accounts.models import User
from webapp.files.models import SETTLED_FILE_STATES, File
from webapp.files.selectors import file_get

POLL_INTERVAL = 0.25


def file_snapshot(file: File) -> tuple[Any, ...]:
    """What a watcher sees change: the state, each job's progress, the derivatives."""
    return (
        file.state,
        tuple((str(j.id), j.state, j.attempts, j.error) for j in file.jobs.all()),
        tuple((d.kind, d.sha256) for d in file.derivatives.all()),
    )


def file_changes(
    *,
    user: User,
    file_id: str,
    stopped: threading.Event,
    poll_interval: float = POLL_INTERVAL,
) -> Iterator[File]:
    """The file now, then each time its snapshot changes, until it is ready or failed
    or `stopped` is set (the client went away, its deadline passed, the server stops).

    Raises the selector's NotFound when the file is not the user's (or is deleted).
    """
    file = file_get(user=user, file_id=file_id)
    last = file_snapshot(file)
    yield file
    while file.state not in SETTLED_FILE_STATES and not stopped.wait(poll_interval):
        close_old_connections()
        file = file_get(user=user, file_id=file_id)
        current = file_snapshot(file)
        if current != last:
            last = current
            yield file
