"""The registry of pipeline steps and the types every step shares.

A step is a pure function: it reads a seekable binary stream and returns metadata and
derivative bytes; it never talks to storage or the broker. Adding a step is one module
plus one line in `REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO


class PermanentError(Exception):
    """The input cannot be processed by this step; trying again would not help."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StepInput:
    """What storage verified about the input: its digest, size and sniffed type."""

    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class StepOptions:
    """Limits and choices that come from the processor's settings."""

    thumbnail_size: int = 256
    thumbnail_format: str = "WEBP"
    max_pixels: int = 50_000_000


@dataclass(frozen=True)
class DerivativeOutput:
    kind: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class StepResult:
    metadata: dict[str, Any] = field(default_factory=dict)
    derivatives: list[DerivativeOutput] = field(default_factory=list)


StepFunction = Callable[[BinaryIO, StepInput, StepOptions], StepResult]


@dataclass(frozen=True)
class Step:
    name: str
    version: int
    run: StepFunction


def _registry() -> dict[str, Step]:
    from processor_service.steps import checksum, metadata, thumbnail

    steps = [
        Step("metadata", 1, metadata.run),
        Step("checksum", 1, checksum.run),
        Step("image.thumbnail", 1, thumbnail.run),
    ]
    return {step.name: step for step in steps}


REGISTRY: dict[str, Step] = _registry()


def find_step(name: str) -> Step:
    """The registered step called `name`; an unknown name is a permanent error."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise PermanentError("unknown_step", f"no step is called {name!r}") from None
