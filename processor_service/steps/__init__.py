"""The registry of pipeline steps and the types every step shares.

A step is a pure function: it reads a seekable binary stream and returns metadata and
derivative bytes; it never talks to storage or the broker. Adding a step is one module
plus one line in `_registry`. Steps judge their input by its bytes and by the type
storage sniffed from them, never by a file name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, BinaryIO

from usp import pipelines
from usp.pipelines import ARCHIVE, IMAGES, MEDIA, PDF, TEXT, base_type

GIB = 1024**3
READ_CHUNK = 1024 * 1024


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
    """Limits and choices; the processor's settings fill the configurable ones."""

    thumbnail_sizes: tuple[int, ...] = (256, 1024)
    thumbnail_format: str = "WEBP"
    max_pixels: int = 50_000_000
    preview_size: int = 1024
    archive_max_entries: int = 10_000
    archive_max_total: int = 10 * GIB
    archive_max_ratio: int = 100
    text_detect_bytes: int = 64 * 1024
    text_preview_chars: int = 1000
    pdf_text_pages: int = 10
    pdf_text_chars: int = 20_000
    time_limit_s: float = 300.0


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


def read_chunks(stream: BinaryIO, size: int = READ_CHUNK) -> Iterator[bytes]:
    """The rest of `stream` in chunks of at most `size` bytes.

    Steps read with this rather than with the storage client's helper: the sandbox's
    forkserver imports every step, and each decoder forked from it would otherwise
    carry gRPC and protobuf too (a 50 MiB process instead of 25 MiB, a slower fork).
    """
    while chunk := stream.read(size):
        yield chunk


@dataclass(frozen=True)
class Step:
    """A named, versioned step.

    `accepts` holds MIME type patterns (fnmatch style) of the inputs the step is meant
    for; `limits` names the StepOptions fields it enforces; `outputs` names the other
    StepOptions fields that shape what it produces; an `isolated` step decodes untrusted
    formats and runs in a resource-limited child process. A step's result is named by its
    input, name, version and the values of its limits and outputs, so a change of code
    must come with a new version.
    """

    name: str
    version: int
    run: StepFunction
    accepts: tuple[str, ...] = ("*/*",)
    limits: tuple[str, ...] = ()
    isolated: bool = False
    outputs: tuple[str, ...] = ()

    @property
    def option_names(self) -> tuple[str, ...]:
        """Every option its result depends on, sorted."""
        return tuple(sorted({*self.limits, *self.outputs}))

    def accepts_type(self, content_type: str) -> bool:
        essence = base_type(content_type)
        return any(fnmatchcase(essence, pattern) for pattern in self.accepts)


def _registry() -> dict[str, Step]:
    from processor_service.steps import (
        archive_listing,
        checksum,
        image_metadata,
        media_probe,
        metadata,
        pdf_preview,
        text_stats,
        thumbnail,
    )

    steps = [
        Step("metadata", 1, metadata.run, limits=("max_pixels",), isolated=True),
        Step("checksum", 1, checksum.run),
        Step("image.metadata", 1, image_metadata.run, IMAGES, ("max_pixels",), isolated=True),
        Step(
            "image.thumbnail",
            2,
            thumbnail.run,
            IMAGES,
            thumbnail.LIMITS,
            isolated=True,
            outputs=thumbnail.OUTPUTS,
        ),
        Step("pdf.preview", 1, pdf_preview.run, PDF, pdf_preview.LIMITS, isolated=True),
        Step("text.stats", 1, text_stats.run, TEXT, text_stats.LIMITS),
        Step("archive.listing", 1, archive_listing.run, ARCHIVE, archive_listing.LIMITS, True),
        Step("media.probe", 1, media_probe.run, MEDIA, media_probe.LIMITS, isolated=True),
    ]
    return {step.name: step for step in steps}


REGISTRY: dict[str, Step] = _registry()


def find_step(name: str) -> Step:
    """The registered step called `name`; an unknown name is a permanent error."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise PermanentError("unknown_step", f"no step is called {name!r}") from None


def default_pipeline(content_type: str) -> list[str]:
    """The steps a fresh upload of this (sniffed) type gets when none are named."""
    return pipelines.default_pipeline(content_type)
