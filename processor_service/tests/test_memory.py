from __future__ import annotations

import sys

import pytest

from processor_service import memory
from processor_service.memory import release_free_memory
from usp.storage_client import CHUNK_SIZE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_free_memory_is_handed_back_where_the_c_library_can() -> None:
    assert release_free_memory() is True


def test_a_job_that_read_less_than_a_chunk_leaves_the_heap_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trims: list[None] = []

    def trim() -> bool:
        trims.append(None)
        return True

    monkeypatch.setattr(memory, "release_free_memory", trim)

    assert memory.release_after_reading(memory.TRIM_AFTER_BYTES - 1) is False
    assert trims == []
    assert memory.release_after_reading(memory.TRIM_AFTER_BYTES) is True
    assert trims == [None]


def test_the_trim_threshold_is_one_read_message() -> None:
    assert memory.TRIM_AFTER_BYTES == CHUNK_SIZE
