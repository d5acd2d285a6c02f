"""Hostile and odd files through the worker: each ends in a clear failure or a correct
result, the worker's own memory stays bounded, and the good jobs beside them succeed."""

from __future__ import annotations

import codecs
import dataclasses
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processor_service.settings import Settings
from processor_service.tests import archives
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage
from processor_service.tests.harness import Harness, as_dict, outcomes, payload
from processor_service.tests.images import (
    SVG_WITH_SCRIPT,
    encoded,
    halves,
    jpeg_with_exif,
    png,
    png_of_zeros,
)
from processor_service.tests.pdfs import pdf_with_pages
from processor_service.tests.test_text_stats_step import FRENCH, JAPANESE
from usp.v1 import common_pb2

MIB = 1024 * 1024
SVG = "image/svg+xml"
ZIP = "application/zip"
OCTETS = "application/octet-stream"


@functools.cache
def huge_png() -> bytes:
    """40,000 x 40,000 pixels (1.6 gigapixels) in about 190 KB."""
    return png_of_zeros(40_000, 40_000)


def truncated_jpeg() -> bytes:
    data = encoded(halves(600, 400).effect_spread(20), "JPEG")
    return data[: len(data) // 2]


def corrupt_png() -> bytes:
    data = encoded(halves(300, 200).effect_spread(20), "PNG")
    start = data.index(b"IDAT") + 4
    return data[:start] + b"\xff\xff" + data[start + 2 :]  # no longer a zlib stream


def png_then_html() -> bytes:
    return b"\x89PNG\r\n\x1a\n<!doctype html><html><script>alert(1)</script></html>"


@dataclass(frozen=True)
class Case:
    """A file, the step it is sent to, the type storage claims, and what must happen."""

    name: str
    step: str
    data: Callable[[], bytes]
    content_type: str
    error: str = ""  # the failure's code; empty when the job must succeed
    check: Callable[[dict[str, Any]], bool] = lambda metadata: True


CASES = [
    Case("truncated-jpeg", "image.thumbnail", truncated_jpeg, "image/jpeg", "corrupt_image"),
    Case("corrupt-png", "image.thumbnail", corrupt_png, "image/png", "corrupt_image"),
    Case("40000px-png", "image.thumbnail", huge_png, "image/png", "image_too_large"),
    Case(
        "40000px-png-described",
        "image.metadata",
        huge_png,
        "image/png",
        check=lambda m: (m["width"], m["height"]) == (40_000, 40_000),
    ),
    Case("png-then-html", "image.thumbnail", png_then_html, "image/png", "corrupt_image"),
    Case("png-then-html-meta", "image.metadata", png_then_html, "image/png", "corrupt_image"),
    Case("svg-script", "image.thumbnail", lambda: SVG_WITH_SCRIPT, SVG, "unsupported_image"),
    Case(
        "svg-script-as-text",
        "text.stats",
        lambda: SVG_WITH_SCRIPT,
        "text/plain",
        check=lambda m: "<script>" in m["preview"],
    ),
    Case(
        "zip-bomb", "archive.listing", lambda: archives.zip_of_zeros("z", 80), ZIP, "archive_bomb"
    ),
    Case(
        "overlapping-zip-bomb",
        "archive.listing",
        archives.overlapping_zip_bomb,
        ZIP,
        "archive_bomb",
    ),
    Case(
        "nested-zip-bomb",
        "archive.listing",
        archives.nested_zip_bomb,
        ZIP,
        check=lambda m: m["entry_count"] == 8,
    ),
    Case(
        "gzip-bomb",
        "archive.listing",
        lambda: archives.gzip_of_zeros(100),
        "application/gzip",
        "archive_bomb",
    ),
    Case(
        "pdf-3000-pages",
        "pdf.preview",
        lambda: pdf_with_pages(3000),
        "application/pdf",
        check=lambda m: (m["pages"], m["text_pages"]) == (3000, 10),
    ),
    Case(
        "utf16-bom",
        "text.stats",
        lambda: codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le"),
        OCTETS,
        check=lambda m: (m["encoding"], m["preview"]) == ("utf-16", FRENCH),
    ),
    Case(
        "shift-jis",
        "text.stats",
        lambda: JAPANESE.encode("shift_jis"),
        OCTETS,
        check=lambda m: m["preview"] == JAPANESE,
    ),
    Case(
        "latin-1",
        "text.stats",
        lambda: FRENCH.encode("latin-1"),
        OCTETS,
        check=lambda m: m["preview"] == FRENCH,
    ),
    Case(
        "png-claimed-as-jpeg",
        "image.metadata",
        lambda: png(50, 40),
        "image/jpeg",
        check=lambda m: m["format"] == "PNG",
    ),
    Case(
        "zip-claimed-as-pdf",
        "pdf.preview",
        lambda: archives.zip_of({"a.txt": b"x"}),
        "application/pdf",
        "corrupt_pdf",
    ),
    Case("jpeg-claimed-as-text", "text.stats", lambda: png(64, 64), "text/plain", "not_text"),
]


def stored(fake: FakeStorage, data: bytes, content_type: str) -> common_pb2.ObjectInfo:
    info = fake.put(data)
    info.content_type = content_type
    return info


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        match = re.search(r"VmHWM:\s+(\d+) kB", status.read())
    assert match is not None
    return int(match.group(1)) * 1024


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def test_bad_inputs_fail_clearly_or_succeed_while_good_jobs_beside_them_succeed(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    inputs = [(case, stored(fake_storage, case.data(), case.content_type)) for case in CASES]
    good_image = stored(fake_storage, jpeg_with_exif(halves(1600, 1200)), "image/jpeg")
    reset_peak_rss()
    baseline = peak_rss_bytes()

    jobs = {harness.submit(case.step, info): case for case, info in inputs}
    good = [harness.submit("image.thumbnail", good_image) for _ in range(4)]
    harness.settle()

    growth = peak_rss_bytes() - baseline
    print(f"worker peak memory grew by {growth / MIB:.1f} MiB")
    envelopes = event_tap.drain()
    ends = {e.job_id: payload(e) for e in envelopes if e.type != "job.started"}
    results = outcomes(envelopes)
    for job_id, case in jobs.items():
        if case.error:
            assert results[job_id] == [("job.failed", 1, case.error, False)], case.name
        else:
            assert results[job_id] == [("job.succeeded", 1, "", False)], case.name
            assert case.check(as_dict(ends[job_id])["metadata"]), case.name
    assert all(results[job_id] == [("job.succeeded", 1, "", False)] for job_id in good)
    assert growth < 64 * MIB, f"the worker grew by {growth // MIB} MiB"


def test_a_40000_pixel_png_let_past_the_pixel_limit_runs_out_of_decoder_memory(
    settings: Settings, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    with Harness(dataclasses.replace(settings, max_pixels=2_000_000_000)) as harness:
        original = stored(fake_storage, huge_png(), "image/png")
        reset_peak_rss()
        baseline = peak_rss_bytes()
        job_id = harness.process("image.thumbnail", original)
        image_job = harness.process(
            "image.thumbnail", stored(fake_storage, png(64, 64), "image/png")
        )

    results = outcomes(event_tap.drain())
    assert results[job_id] == [
        ("job.failed", 1, "decoder_out_of_memory", True),
        ("job.failed", 2, "decoder_out_of_memory", False),
    ]
    assert results[image_job] == [("job.succeeded", 1, "", False)]
    assert peak_rss_bytes() - baseline < 64 * MIB
