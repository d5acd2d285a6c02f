from __future__ import annotations

import dataclasses

import pytest

from processor_service.steps import (
    REGISTRY,
    PermanentError,
    StepOptions,
    default_pipeline,
    find_step,
)
from usp import pipelines


def test_registry_holds_every_step_by_its_contract_name() -> None:
    assert sorted(REGISTRY) == [
        "archive.listing",
        "checksum",
        "image.metadata",
        "image.thumbnail",
        "media.probe",
        "metadata",
        "pdf.preview",
        "text.stats",
    ]
    assert all(step.name == name and step.version >= 1 for name, step in REGISTRY.items())


def test_the_registry_serves_exactly_the_steps_storage_dispatches() -> None:
    assert set(REGISTRY) == set(pipelines.STEPS)


def test_every_limit_a_step_declares_is_an_option_it_is_given() -> None:
    options = {field.name for field in dataclasses.fields(StepOptions)}

    assert {limit for step in REGISTRY.values() for limit in step.limits} <= options


def test_steps_that_decode_untrusted_formats_run_isolated() -> None:
    isolated = sorted(name for name, step in REGISTRY.items() if step.isolated)

    assert isolated == [
        "archive.listing",
        "image.metadata",
        "image.thumbnail",
        "media.probe",
        "metadata",
        "pdf.preview",
    ]


@pytest.mark.parametrize(
    ("step", "content_type", "accepted"),
    [
        ("image.thumbnail", "image/png", True),
        ("image.thumbnail", "IMAGE/JPEG; foo=bar", True),
        ("image.thumbnail", "application/pdf", False),
        ("pdf.preview", "application/pdf", True),
        ("text.stats", "text/csv", True),
        ("text.stats", "image/svg+xml", True),
        ("archive.listing", "application/x-xz", True),
        ("archive.listing", "application/x-7z-compressed", False),
        ("media.probe", "video/webm", True),
        ("media.probe", "audio/mpeg", True),
        ("checksum", "application/octet-stream", True),
        ("metadata", "anything/at-all", True),
    ],
)
def test_steps_declare_the_types_they_accept(step: str, content_type: str, accepted: bool) -> None:
    assert REGISTRY[step].accepts_type(content_type) is accepted


@pytest.mark.parametrize(
    ("content_type", "pipeline"),
    [
        ("image/jpeg", ["image.metadata", "image.thumbnail", "checksum"]),
        ("image/png", ["image.metadata", "image.thumbnail", "checksum"]),
        ("image/webp", ["image.metadata", "image.thumbnail", "checksum"]),
        ("image/heic", ["checksum"]),
        ("image/svg+xml", ["text.stats", "checksum"]),
        ("application/pdf", ["pdf.preview", "checksum"]),
        ("text/plain", ["text.stats", "checksum"]),
        ("text/plain; charset=utf-8", ["text.stats", "checksum"]),
        ("text/csv", ["text.stats", "checksum"]),
        ("application/json", ["text.stats", "checksum"]),
        ("application/zip", ["archive.listing", "checksum"]),
        ("application/x-tar", ["archive.listing", "checksum"]),
        ("application/gzip", ["archive.listing", "checksum"]),
        ("application/x-bzip2", ["archive.listing", "checksum"]),
        ("application/x-xz", ["archive.listing", "checksum"]),
        ("video/mp4", ["media.probe", "checksum"]),
        ("audio/mpeg", ["media.probe", "checksum"]),
        ("application/octet-stream", ["checksum"]),
        ("application/x-empty", ["checksum"]),
        ("", ["checksum"]),
    ],
)
def test_default_pipeline_follows_the_sniffed_type(content_type: str, pipeline: list[str]) -> None:
    assert default_pipeline(content_type) == pipeline
    assert all(name in REGISTRY for name in pipeline)


def test_unknown_step_name_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError) as caught:
        find_step("video.transcode")

    assert caught.value.code == "unknown_step"
