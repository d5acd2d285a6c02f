"""How the CLI prints files, sizes and progress."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm

from usp.cli.grpc_client import FileStatus

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
TABLE_FORMAT = "{id:<36}  {state:<10}  {size:>9}  {name}"
JOB_FORMAT = "{id:<36}  {file_id:<36}  {step:<16}  {state:<9}  {attempts:>8}  {error}"


def human_size(size: int) -> str:
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def result_line(resource: dict[str, Any]) -> str:
    """One uploaded file: `<id>  <name>  <state>`."""
    return f"{resource.get('id', '')}  {resource.get('name', '')}  {resource.get('state', '')}"


def table_header() -> str:
    return TABLE_FORMAT.format(id="ID", state="STATE", size="SIZE", name="NAME")


def table_row(resource: dict[str, Any]) -> str:
    return TABLE_FORMAT.format(
        id=str(resource.get("id", "")),
        state=str(resource.get("state", "")),
        size=human_size(int(resource.get("size") or 0)),
        name=str(resource.get("name", "")),
    )


def job_header() -> str:
    return JOB_FORMAT.format(
        id="JOB", file_id="FILE", step="STEP", state="STATE", attempts="ATTEMPTS", error="ERROR"
    ).rstrip()


def job_row(job: dict[str, Any]) -> str:
    """One job; a queued job with an error is one the processor will retry."""
    error = str(job.get("error") or "")
    if error and job.get("state") == "queued":
        error += " (will retry)"
    return JOB_FORMAT.format(
        id=str(job.get("id", "")),
        file_id=str(job.get("file_id", "")),
        step=str(job.get("step", "")),
        state=str(job.get("state", "")),
        attempts=str(job.get("attempts", 0)),
        error=error,
    ).rstrip()


def watch_line(status: FileStatus) -> str:
    """`processing  metadata=succeeded checksum=running`; a retried job shows its attempt."""
    jobs = " ".join(
        f"{job.step}={job.state}" + (f"(attempt {job.attempts})" if job.attempts > 1 else "")
        for job in status.jobs
    )
    return f"{status.state:<10}  {jobs}".rstrip()


def progress_bar(
    *,
    total: int,
    label: str,
    enabled: bool | None,
    stream: TextIO | None = None,
    position: int | None = None,
) -> tuple[tqdm, Callable[[int], None]]:
    """A byte progress bar with throughput, and a callback taking the bytes done so far.

    `enabled=None` shows it only when the stream is a terminal; `position` is the line
    of the bar when several run at once.
    """
    out = stream or sys.stderr
    show = out.isatty() if enabled is None else enabled
    bar = tqdm(
        total=total,
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=out,
        disable=not show,
        leave=False,
        dynamic_ncols=True,
        position=position,
    )

    def advance(done: int) -> None:
        bar.update(done - bar.n)

    return bar, advance
