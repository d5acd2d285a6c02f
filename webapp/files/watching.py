"""Following one file while it changes, by polling the catalog.

The catalog is written by the event consumer, possibly in another process, so polling
the database is the one signal every deployment shares. The gRPC WatchFile and the
server-sent events of the pages both follow files this way.
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


def file_polls(
    *, user: User, file_id: str, stopped: threading.Event, poll_interval: float = POLL_INTERVAL
) -> Iterator[File]:
    """The file now, then read again every `poll_interval` until `stopped` is set.

    Raises the selector's NotFound when the file is not the user's (or is deleted).
    """
    yield file_get(user=user, file_id=file_id)
    while not stopped.wait(poll_interval):
        # Each read may come from another thread's or process's commit: a fresh
        # connection when the old one is unusable or past its age.
        close_old_connections()
        yield file_get(user=user, file_id=file_id)


def file_changes(
    *,
    user: User,
    file_id: str,
    stopped: threading.Event,
    poll_interval: float = POLL_INTERVAL,
) -> Iterator[File]:
    """The file now, then each time its snapshot changes, until it is settled (ready,
    failed, expired) or `stopped` is set (the client went away, its deadline passed,
    the server stops).

    Raises the selector's NotFound when the file is not the user's (or is deleted).
    """
    last: tuple[Any, ...] | None = None
    for file in file_polls(
        user=user, file_id=file_id, stopped=stopped, poll_interval=poll_interval
    ):
        current = file_snapshot(file)
        if current != last:
            last = current
            yield file
        if file.state in SETTLED_FILE_STATES:
            return
