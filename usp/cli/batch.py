"""`usp upload` over many files: a few at a time, one progress bar each.

Each file is on its own: a refused or failed one is reported as `usp: <name>: <reason>`
and the others go on. Ctrl-C stops every transfer; what reached the server stays there
and a re-run resumes it.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from usp.cli.config import Settings
from usp.cli.errors import CliError
from usp.cli.output import progress_bar, result_line
from usp.cli.rest import RestClient
from usp.cli.tus import TusClient
from usp.cli.uploads import (
    DEFAULT_CHUNK_SIZE,
    Progress,
    RetryPolicy,
    Uploader,
    UploadRequest,
    file_sha256,
)

DEFAULT_PARALLEL = 4


@dataclass(frozen=True)
class BatchOptions:
    pipeline: Sequence[str] = ()
    chunk_size: int = DEFAULT_CHUNK_SIZE
    sha256: bool = False
    multipart: bool = False
    parallel: int = DEFAULT_PARALLEL
    progress: bool | None = None
    retry: RetryPolicy | None = None


class Batch:
    """Uploads files with `options.parallel` threads; `run()` returns the exit status."""

    def __init__(self, settings: Settings, options: BatchOptions) -> None:
        self.settings = settings
        self.options = options
        self.cancel = threading.Event()
        self._slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(max(1, options.parallel)):
            self._slots.put(slot)

    def run(self, paths: Sequence[Path]) -> int:
        workers = max(1, min(self.options.parallel, len(paths)))
        with ThreadPoolExecutor(workers, thread_name_prefix="usp-upload") as pool:
            futures = [pool.submit(self._one, path) for path in paths]
            try:
                outcomes = [future.result() for future in futures]
            except BaseException:
                self._stop(futures)
                raise
        return 0 if all(outcomes) else 1

    def _stop(self, futures: Sequence[Future[bool]]) -> None:
        self.cancel.set()
        for future in futures:
            future.cancel()

    def _one(self, path: Path) -> bool:
        """Upload one file; report its line or its error. True when it arrived."""
        try:
            resource = self._upload(path)
        except CliError as exc:
            _write(f"usp: {path}: {exc.message}", sys.stderr)
            return False
        except OSError as exc:
            _write(f"usp: {path}: {exc.strerror or exc}", sys.stderr)
            return False
        _write(result_line(resource), sys.stdout)
        return True

    def _upload(self, path: Path) -> dict[str, Any]:
        with (
            self._bar(path) as bar,
            RestClient(self.settings.url, self.settings.token, ca=self.settings.ca) as rest,
        ):
            if self.options.multipart:
                return rest.upload(
                    path,
                    pipeline=self.options.pipeline,
                    on_progress=lambda sent, total: _show(bar, sent, total),
                )
            request = UploadRequest(
                path=path,
                name=path.name,
                pipeline=self.options.pipeline,
                sha256=self._sha256(path, bar),
                chunk_size=self.options.chunk_size,
            )
            with TusClient(ca=self.settings.ca) as tus:
                uploader = Uploader(
                    rest,
                    tus,
                    request,
                    progress=_bar_progress(bar, path.name),
                    retry=self.options.retry,
                    cancel=self.cancel,
                )
                return uploader.run()

    def _sha256(self, path: Path, bar: tqdm) -> str:
        if not self.options.sha256:
            return ""
        bar.set_description(f"{path.name} (sha256)", refresh=False)
        return file_sha256(path, on_read=lambda count: self._hashed(bar, count))

    def _hashed(self, bar: tqdm, count: int) -> None:
        if self.cancel.is_set():
            raise KeyboardInterrupt
        bar.update(count)

    @contextmanager
    def _bar(self, path: Path) -> Iterator[tqdm]:
        slot = self._slots.get()
        bar, _advance = progress_bar(
            total=path.stat().st_size,
            label=path.name,
            enabled=self.options.progress,
            position=slot,
        )
        try:
            with bar:
                yield bar
        finally:
            self._slots.put(slot)


def _bar_progress(bar: tqdm, label: str) -> Progress:
    """Progress that restarts the bar at the server's offset, so the throughput shown
    counts only the bytes this run sends."""

    def start(offset: int, total: int) -> None:
        bar.set_description(label, refresh=False)
        bar.reset(total=total)
        bar.n = bar.last_print_n = bar.initial = offset
        bar.refresh()

    return Progress(start=start, sent=bar.update)


def _show(bar: tqdm, sent: int, total: int) -> None:
    bar.total = total
    bar.update(sent - bar.n)


def _write(line: str, stream: Any) -> None:
    """A line that does not tear the progress bars."""
    tqdm.write(line, file=stream)
    stream.flush()
