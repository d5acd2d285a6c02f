from __future__ import annotations

import pytest

from processor_service.steps import REGISTRY, PermanentError, find_step


def test_registry_holds_the_steps_storage_dispatches_by_name() -> None:
    assert sorted(REGISTRY) == ["checksum", "image.thumbnail", "metadata"]
    assert all(step.name == name and step.version >= 1 for name, step in REGISTRY.items())


def test_unknown_step_name_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError) as caught:
        find_step("video.transcode")

    assert caught.value.code == "unknown_step"
