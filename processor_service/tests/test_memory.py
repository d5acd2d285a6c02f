from __future__ import annotations

import sys

import pytest

from processor_service.memory import release_free_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_free_memory_is_handed_back_where_the_c_library_can() -> None:
    assert release_free_memory() is True
