"""Processing pipelines: the step names storage dispatches and the default per type."""

from __future__ import annotations

from collections.abc import Sequence

from storage_service.errors import InvalidObject

KNOWN_STEPS = ("metadata", "checksum", "image.thumbnail")
_BASE = ["metadata", "checksum"]
_IMAGE = [*_BASE, "image.thumbnail"]


def default_pipeline(content_type: str) -> list[str]:
    return list(_IMAGE) if content_type.startswith("image/") else list(_BASE)


def validate(requested: Sequence[str]) -> None:
    """Refuse a step name the processor does not know."""
    unknown = [step for step in requested if step not in KNOWN_STEPS]
    if unknown:
        raise InvalidObject(
            f"unknown pipeline step {unknown[0]!r}; known steps: {', '.join(KNOWN_STEPS)}"
        )


def resolve(requested: Sequence[str], content_type: str) -> list[str]:
    """The steps to run: the requested ones (each once, in order) or the default."""
    validate(requested)
    if not requested:
        return default_pipeline(content_type)
    return list(dict.fromkeys(requested))
