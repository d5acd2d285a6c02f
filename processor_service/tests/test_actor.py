"""The processing actor end to end on the StubBroker, real gRPC and in-memory kombu."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import time
from typing import Any

import pytest
from PIL import Image

from processor_service.settings import Settings
from processor_service.steps import REGISTRY, Step, StepResult
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage, RecordedDerivative
from processor_service.tests.harness import FILE_ID, Harness, as_dict, payload, summary
from processor_service.tests.images import halves, jpeg_with_exif
from processor_service.tests.pdfs import pdf_with_pages


def test_image_gets_stored_webp_thumbnails_and_started_then_succeeded_events(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    original = fake_storage.put(jpeg_with_exif(halves(2048, 1536)))

    job_id = harness.process("image.thumbnail", original)

    started, succeeded = received = event_tap.drain()
    assert summary(received) == [
        ("job.started", FILE_ID, job_id, 11),
        ("job.succeeded", FILE_ID, job_id, 12),
    ]
    assert as_dict(payload(started)) == {"attempt": 1, "step": "image.thumbnail"}
    small, large = fake_storage.derivatives
    assert small == RecordedDerivative(FILE_ID, "thumbnail-256", job_id, small.sha256)
    assert large == RecordedDerivative(FILE_ID, "thumbnail-1024", job_id, large.sha256)
    assert as_dict(payload(succeeded)) == {
        "attempt": 1,
        "step": "image.thumbnail",
        "metadata": {
            "thumbnails": {
                "thumbnail-256": {"width": 256.0, "height": 192.0},
                "thumbnail-1024": {"width": 1024.0, "height": 768.0},
            }
        },
        "derivatives": [
            {
                "kind": stored.kind,
                "object": {
                    "checksum": {"sha256": stored.sha256},
                    "size": str(len(fake_storage.objects[stored.sha256])),
                    "content_type": "image/webp",
                },
            }
            for stored in (small, large)
        ],
        # When the attempt began: the moment job.started tells.
        "started_at": started.occurred_at.ToJsonString(),
    }
    for stored, size in ((small, (256, 192)), (large, (1024, 768))):
        with Image.open(io.BytesIO(fake_storage.objects[stored.sha256])) as image:
            assert (image.format, image.size) == ("WEBP", size)


def test_pdf_preview_is_stored_as_a_derivative_of_the_file(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    job_id = harness.process("pdf.preview", fake_storage.put(pdf_with_pages(2)))

    _, succeeded = event_tap.drain()
    body = as_dict(payload(succeeded))
    assert (body["metadata"]["pages"], body["metadata"]["text"]) == (2.0, "Page 1\nPage 2")
    [stored] = fake_storage.derivatives
    assert stored == RecordedDerivative(FILE_ID, "preview-1024", job_id, stored.sha256)
    assert [(d["kind"], d["object"]["content_type"]) for d in body["derivatives"]] == [
        ("preview-1024", "image/webp")
    ]


def test_metadata_step_reports_image_details_in_the_succeeded_event(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    data = jpeg_with_exif(halves(64, 48), orientation=6)
    original = fake_storage.put(data)

    harness.process("metadata", original)

    _, succeeded = event_tap.drain()
    metadata = as_dict(payload(succeeded))["metadata"]
    assert metadata == {
        "size": float(len(data)),
        "content_type": "image/jpeg",
        "format": "JPEG",
        "width": 64.0,
        "height": 48.0,
        "mode": "RGB",
        "exif": {
            "Make": "TestCam",
            "Model": "Model 1",
            "Orientation": 6.0,
            "DateTimeOriginal": "2024:01:02 03:04:05",
            "ExposureTime": 0.004,
        },
    }
    assert fake_storage.derivatives == []


def test_text_file_through_the_thumbnail_step_fails_once_and_for_good(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    original = fake_storage.put(b"plain words, not pixels\n")

    job_id = harness.process("image.thumbnail", original)

    received = event_tap.drain()
    assert summary(received) == [
        ("job.started", FILE_ID, job_id, 11),
        ("job.failed", FILE_ID, job_id, 12),
    ]
    assert as_dict(payload(received[1])) == {
        "attempt": 1,
        "step": "image.thumbnail",
        "error": {"code": "not_an_image", "message": "the file is not an image Pillow can read"},
        "started_at": received[0].occurred_at.ToJsonString(),
    }
    assert fake_storage.reads == [original.checksum.sha256]
    assert [m.message_id for m in harness.broker.dead_letters] == [job_id]
    assert fake_storage.derivatives == []


def test_unavailable_storage_is_reported_as_retrying_and_the_retry_succeeds(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    original = fake_storage.put(jpeg_with_exif(halves(300, 300)))
    fake_storage.failing_reads = 1

    job_id = harness.process("image.thumbnail", original)

    received = event_tap.drain()
    assert summary(received) == [
        ("job.started", FILE_ID, job_id, 11),
        ("job.failed", FILE_ID, job_id, 12),
        ("job.started", FILE_ID, job_id, 21),
        ("job.succeeded", FILE_ID, job_id, 22),
    ]
    assert as_dict(payload(received[1])) == {
        "attempt": 1,
        "step": "image.thumbnail",
        "error": {
            "code": "storage_unavailable",
            "message": "the storage service is unavailable; try again shortly",
            "transient": True,
        },
        "will_retry": True,
        "started_at": received[0].occurred_at.ToJsonString(),
    }
    assert payload(received[3]).attempt == 2
    assert payload(received[3]).started_at == received[2].occurred_at
    assert fake_storage.reads == [original.checksum.sha256] * 2
    assert [d.kind for d in fake_storage.derivatives] == ["thumbnail-256", "thumbnail-1024"]
    assert harness.broker.dead_letters == []


def test_last_allowed_attempt_reports_that_no_retry_follows(
    settings: Settings, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    with Harness(dataclasses.replace(settings, max_retries=1)) as harness:
        original = fake_storage.put(b"some bytes")
        fake_storage.failing_reads = 5
        job_id = harness.process("checksum", original)

    failures = [payload(e) for e in event_tap.drain() if e.type == "job.failed"]
    assert [(f.attempt, f.will_retry, f.error.transient) for f in failures] == [
        (1, True, True),
        (2, False, True),
    ]
    assert [m.message_id for m in harness.broker.dead_letters] == [job_id]


def test_input_whose_bytes_do_not_match_the_dispatched_sha256_fails_permanently(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    claimed = hashlib.sha256(b"what storage was told").hexdigest()
    original = fake_storage.put(b"what storage actually holds", sha256=claimed)

    harness.process("metadata", original)

    received = event_tap.drain()
    assert [e.type for e in received] == ["job.started", "job.failed"]
    failed = payload(received[1])
    assert (failed.error.code, failed.error.transient, failed.will_retry) == (
        "checksum_mismatch",
        False,
        False,
    )
    assert fake_storage.reads == [claimed]


def test_unknown_step_fails_permanently_without_reading_the_input(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    original = fake_storage.put(b"bytes")

    harness.process("video.transcode", original)

    received = event_tap.drain()
    assert [e.type for e in received] == ["job.started", "job.failed"]
    assert payload(received[1]).error.code == "unknown_step"
    assert fake_storage.reads == []


def test_malformed_task_is_dead_lettered_without_any_event(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    harness.enqueue({"job_id": "j-1", "no_such_field": True}, "j-1")

    assert event_tap.drain() == []
    assert [m.message_id for m in harness.broker.dead_letters] == ["j-1"]
    assert fake_storage.reads == []


def _busy_until_interrupted(stream: Any, source: Any, options: Any) -> StepResult:
    # Pure Python work, so the time limit's asynchronous exception can land in it.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pass
    raise AssertionError("the time limit never interrupted the step")


def test_step_running_past_the_time_limit_is_reported_as_a_transient_failure(
    settings: Settings,
    fake_storage: FakeStorage,
    event_tap: EventTap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(REGISTRY, "busy", Step("busy", 1, _busy_until_interrupted))
    with Harness(dataclasses.replace(settings, step_time_limit_ms=50, max_retries=0)) as harness:
        harness.process("busy", fake_storage.put(b"bytes"))

    [failed] = [payload(e) for e in event_tap.drain() if e.type == "job.failed"]
    assert (failed.error.code, failed.error.transient, failed.will_retry) == (
        "time_limit_exceeded",
        True,
        False,
    )


def test_a_job_that_ends_within_the_started_delay_is_reported_by_its_end_alone(
    settings: Settings, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    with Harness(dataclasses.replace(settings, job_started_delay_ms=60_000)) as harness:
        asked_at = time.time_ns()
        job_id = harness.process("checksum", fake_storage.put(b"checked in no time"))

    [succeeded] = received = event_tap.drain()
    assert summary(received) == [("job.succeeded", FILE_ID, job_id, 12)]
    began = payload(succeeded).started_at.ToNanoseconds()
    assert asked_at <= began <= succeeded.occurred_at.ToNanoseconds()
