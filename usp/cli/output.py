"""How the CLI prints files, sizes and progress."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm

from usp.cli.grpc_client import FileStatus

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
TABLE_FORMAT = "{id:<36}  {state:<10}  {size:>9}  {name}"


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
