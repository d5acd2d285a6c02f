"""The host's CPUs, divided between the decoders of the processors running on it.

Decoding is CPU-bound, so a processor alone runs as many decoders at once as it may use
CPUs. Several processors on one host each doing so would run that many decoders each:
the extra ones only take turns on the cores and evict each other's images from the CPU
caches. With two processors on two cores, four decoders at work cost 74 ms of CPU per
thumbnail against the step's 69-70 alone; two, one per processor, cost 70.

So each processor divides the CPUs it may use by the processors running on the host,
at least one each. They find each other through a directory they all use: each holds an
exclusive lock (flock) on a slot file of its own there for as long as it runs, and the
kernel drops a lock when its process ends, however it ends, so the locks held are the
processors alive. A processor counts them again at most every `recount_seconds`, so one
that starts or stops changes the others' share within that time.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import math
import os
import re
import tempfile
import threading
import time
from pathlib import Path

from usp.config import ConfigError

logger = logging.getLogger(__name__)

RECOUNT_SECONDS = 2.0
MAX_SLOTS = 1024
_SLOT_NAME = re.compile(r"slot-\d+\.lock")


def default_directory() -> Path:
    """Where this user's processors on this host find each other."""
    return Path(tempfile.gettempdir()) / f"usp-processors-{os.getuid()}"


class HostShare:
    """This processor's slot in `directory`, held until `close`, and its share of
    `cpus`."""

    def __init__(
        self, directory: Path, cpus: int, *, recount_seconds: float = RECOUNT_SECONDS
    ) -> None:
        _make_own_directory(directory)
        self._directory = directory
        self._cpus = cpus
        self._recount_seconds = recount_seconds
        self._slot = _take_slot(directory)
        self._lock = threading.Lock()
        self._turns = cpus
        self._counted_at = -math.inf

    def turns(self) -> int:
        """How many decoders this processor may run at once: the CPUs divided by the
        processors running on the host, at least one."""
        with self._lock:
            now = time.monotonic()
            if now - self._counted_at >= self._recount_seconds:
                self._counted_at = now
                self._recount()
            return self._turns

    def close(self) -> None:
        """Give up the slot; the other processors' shares grow at their next count."""
        with self._lock:
            if self._slot is not None:
                os.close(self._slot)
                self._slot = None

    def _recount(self) -> None:
        processors = max(1, processors_running(self._directory))
        turns = max(1, self._cpus // processors)
        if turns != self._turns:
            fields = {"turns": turns, "processors": processors, "cpus": self._cpus}
            logger.info("decoder share changed", extra={"fields": fields})
        self._turns = turns


def _make_own_directory(directory: Path) -> None:
    """Create the directory, or refuse one that another user owns or others may write
    in: whoever can write there can change this processor's share."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = directory.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        raise ConfigError(
            f"{directory} (USP_DECODER_SHARE_DIR) must belong to this user and be writable "
            "by no one else"
        )


def _take_slot(directory: Path) -> int | None:
    """The descriptor of the first slot file no running processor holds, locked; None
    when every slot is held (the processor then counts only the others)."""
    for index in range(MAX_SLOTS):
        descriptor = _open_slot(directory / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT)
        if descriptor is None:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        return descriptor
    return None


def processors_running(directory: Path) -> int:
    """How many slots in `directory` a running processor holds."""
    slots = [entry.path for entry in os.scandir(directory) if _SLOT_NAME.fullmatch(entry.name)]
    return sum(map(_held, slots))


def _open_slot(path: str | Path, flags: int) -> int | None:
    """The slot file's descriptor; None when it is gone or is not a file but a symbolic
    link (someone else's doing: it is neither taken nor counted)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o600)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None
        raise


def _held(path: str) -> bool:
    descriptor = _open_slot(path, os.O_RDONLY)
    if descriptor is None:
        return False
    try:
        # A shared lock: counting never stops another count, only a holder stops it.
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False
