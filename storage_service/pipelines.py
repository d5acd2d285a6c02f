"""Processing pipelines: the step names storage dispatches and the default per type."""

from __future__ import annotations

from collections.abc import Sequence

from storage_service.errors import InvalidObject
from usp.pipelines import STEPS, default_pipeline, unknown_steps


def validate(requested: Sequence[str]) -> None:
    """Refuse a step name the processor does not know."""
    unknown = unknown_steps(requested)
    if unknown:
        raise InvalidObject(
            f"unknown pipeline step {unknown[0]!r}; known steps: {', '.join(STEPS)}"
        )


def resolve(requested: Sequence[str], content_type: str) -> list[str]:
    """The steps to run: the requested ones (each once, in order) or the default."""
    validate(requested)
    if not requested:
        return default_pipeline(content_type)
    return list(dict.fromkeys(requested))
