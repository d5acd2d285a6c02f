"""CPU time by process tree, read from /proc: where a figure's CPU went."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its descendants, the living and the ones
    already reaped (sandboxed decoders end up in their forkserver's children's time)."""
    return own_cpu_seconds(pid, reaped=True) + sum(map(cpu_seconds, children_of(pid)))


def own_cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """CPU time used so far by the process alone, with its reaped children's when
    `reaped`; 0 once it has ended (its parent's children's time has it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # utime, stime, cutime, cstime are fields 14 to 17; the split starts at field 3.
    ticks = sum(int(value) for value in fields[11 : 15 if reaped else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> set[int]:
    """The process's children, read thread by thread; threads may end meanwhile."""
    children: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                children.update(int(value) for value in (task / "children").read_text().split())
    return children


def local_broker() -> dict[str, int]:
    """RabbitMQ's Erlang VM by name, when it runs on this machine and /proc shows it."""
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and _is_rabbitmq(entry):
                return {"rabbitmq": int(entry.name)}
    return {}


def _is_rabbitmq(process: Path) -> bool:
    return (process / "comm").read_text().strip() == "beam.smp" and b"rabbit" in (
        process / "cmdline"
    ).read_bytes()


def cpu_by_service(services: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each service's process tree, and of this process."""
    spent = {name: cpu_seconds(pid) for name, pid in services.items()}
    own = os.times()
    spent["bench client"] = own.user + own.system
    return spent


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds of each process between two readings."""
    return {name: after[name] - before[name] for name in after}


def ms_per_item(spent: dict[str, float], items: int) -> dict[str, float]:
    """Milliseconds per item of each process's CPU seconds."""
    return {name: seconds * 1000 / items for name, seconds in spent.items()}


def cpu_ms_per_item(
    before: dict[str, float], after: dict[str, float], items: int
) -> dict[str, float]:
    """Milliseconds of CPU per item of each process between two readings."""
    return ms_per_item(cpu_spent(before, after), items)
