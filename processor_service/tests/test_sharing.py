"""The processors of one host divide its CPUs between their decoders."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from processor_service.actors import decoder_turns
from processor_service.settings import Settings
from processor_service.sharing import HostShare, processors_running
from tests.waiting import wait_for
from usp.config import ConfigError, usable_cores

REPOSITORY = Path(__file__).resolve().parents[2]
# A processor elsewhere: it takes a slot, says so, and holds it until killed.
HOLDER = """
import sys, time
from pathlib import Path
from processor_service.sharing import HostShare
HostShare(Path(sys.argv[1]), 2)
print("holding", flush=True)
time.sleep(60)
"""


@pytest.fixture
def shares() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def join(stack: ExitStack, directory: Path, cpus: int) -> HostShare:
    share = HostShare(directory, cpus, recount_seconds=0)
    stack.callback(share.close)
    return share


def test_a_processor_alone_may_use_every_cpu(tmp_path: Path, shares: ExitStack) -> None:
    assert join(shares, tmp_path, 4).turns() == 4


def test_processors_on_one_host_divide_the_cpus(tmp_path: Path, shares: ExitStack) -> None:
    first = join(shares, tmp_path, 4)
    second = join(shares, tmp_path, 4)

    assert processors_running(tmp_path) == 2
    assert (first.turns(), second.turns()) == (2, 2)


def test_each_processor_gets_a_turn_when_they_outnumber_the_cpus(
    tmp_path: Path, shares: ExitStack
) -> None:
    three = [join(shares, tmp_path, 2) for _ in range(3)]

    assert [share.turns() for share in three] == [1, 1, 1]


def test_a_processor_that_stops_gives_its_share_back(tmp_path: Path, shares: ExitStack) -> None:
    staying = join(shares, tmp_path, 4)
    leaving = join(shares, tmp_path, 4)
    assert staying.turns() == 2

    leaving.close()

    assert staying.turns() == 4
    assert processors_running(tmp_path) == 1


def test_a_killed_processor_gives_its_share_back(tmp_path: Path, shares: ExitStack) -> None:
    staying = join(shares, tmp_path, 2)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        assert staying.turns() == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)

    wait_for(lambda: staying.turns() == 2, timeout=5, what="the killed processor's slot")


def test_a_share_is_counted_again_only_after_its_recount_time(
    tmp_path: Path, shares: ExitStack
) -> None:
    patient = HostShare(tmp_path, 4, recount_seconds=3600)
    shares.callback(patient.close)
    assert patient.turns() == 4

    join(shares, tmp_path, 4)

    assert patient.turns() == 4
    assert processors_running(tmp_path) == 2


def test_processors_sharing_other_directories_are_not_counted(
    tmp_path: Path, shares: ExitStack
) -> None:
    here = join(shares, tmp_path / "here", 4)
    join(shares, tmp_path / "elsewhere", 4)

    assert here.turns() == 4


def test_a_directory_others_may_write_in_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)

    with pytest.raises(ConfigError, match="writable by no one else"):
        HostShare(shared, 2)
    assert list(shared.iterdir()) == []


def test_a_slot_that_is_a_symbolic_link_is_neither_taken_nor_counted(
    tmp_path: Path, shares: ExitStack
) -> None:
    elsewhere = tmp_path / "elsewhere.lock"
    elsewhere.touch()
    share_dir = tmp_path / "share"
    share_dir.mkdir(mode=0o700)
    (share_dir / "slot-0.lock").symlink_to(elsewhere)

    share = join(shares, share_dir, 4)

    assert (share_dir / "slot-1.lock").is_file()
    assert processors_running(share_dir) == 1
    assert share.turns() == 4


def test_a_set_concurrency_is_used_as_it_is_and_takes_no_slot(tmp_path: Path) -> None:
    owned: list[Any] = []
    settings = Settings(decoder_concurrency=3, decoder_share_dir=tmp_path)

    turns = decoder_turns(settings, owned)

    assert turns() == 3
    assert owned == []
    assert processors_running(tmp_path) == 0


def test_by_default_a_processor_takes_a_slot_it_gives_back_on_close(tmp_path: Path) -> None:
    owned: list[Any] = []
    settings = Settings(decoder_share_dir=tmp_path)

    turns = decoder_turns(settings, owned)

    assert turns() == usable_cores()
    assert processors_running(tmp_path) == 1
    owned[0].close()
    assert processors_running(tmp_path) == 0
