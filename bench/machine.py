"""What the figures were measured on: CPU, cores, memory, and the filesystem of a path."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from usp.config import usable_cores


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def filesystem_of(path: Path) -> str:
    """`ext4 on /dev/vda (mounted at /)` for the mount holding `path`."""
    target = str(path.resolve())
    best: tuple[str, str, str] = ("?", "?", "/")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount_point, fstype = line.split()[:3]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best[2]):
            best = (fstype, device, mount_point)
    fstype, device, mount_point = best
    return f"{fstype} on {device} (mounted at {mount_point})"


def load_average() -> float:
    """The 1-minute load average: other work on the machine skews every figure."""
    return os.getloadavg()[0]


def describe(path: Path) -> list[tuple[str, str]]:
    return [
        ("CPU", f"{cpu_model()}, {usable_cores()} usable cores"),
        ("memory", f"{memory_total() / 1024**3:.1f} GiB"),
        ("filesystem", f"{path}: {filesystem_of(path)}"),
        ("kernel", platform.release()),
        ("Python", platform.python_version()),
    ]
