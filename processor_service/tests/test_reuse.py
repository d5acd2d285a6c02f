"""Results remembered by (input SHA-256, step, version, options): the same work is done
once, a reprocess recomputes, and other options name other results."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from processor_service.remembering import options_digest, result_key
from processor_service.settings import Settings
from processor_service.steps import (
    REGISTRY,
    DerivativeOutput,
    Step,
    StepInput,
    StepOptions,
    StepResult,
)
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage, RecordedDerivative, StoreCall
from processor_service.tests.harness import FILE_ID, Harness, as_dict, payload
from processor_service.tests.images import png
from usp.storage_client import ResultKey
from usp.v1 import common_pb2


class CountingStep:
    """A step that counts its runs and makes one derivative from what it read."""

    def __init__(self) -> None:
        self.runs = 0
        self._lock = threading.Lock()

    def __call__(self, stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
        with self._lock:
            self.runs += 1
        data = stream.read()
        return StepResult(
            metadata={"length": len(data)},
            derivatives=[DerivativeOutput("digest", "text/plain", hashlib.sha1(data).digest())],
        )


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingStep]:
    step = CountingStep()
    monkeypatch.setitem(REGISTRY, "test.count", Step("test.count", 1, step))
    yield step


def succeeded(tap_events: list[common_pb2.EventEnvelope]) -> dict[str, dict[str, Any]]:
    return {e.job_id: as_dict(payload(e)) for e in tap_events if e.type == "job.succeeded"}


def began_at(started_at: str) -> int:
    """A started_at in its JSON form, in nanoseconds."""
    timestamp = Timestamp()
    timestamp.FromJsonString(started_at)
    return timestamp.ToNanoseconds()


def test_a_computed_result_is_stored_and_remembered_in_one_storage_call(
    harness: Harness,
    fake_storage: FakeStorage,
    event_tap: EventTap,
    caplog: pytest.LogCaptureFixture,
) -> None:
    original = fake_storage.put(png(640, 480))
    caplog.set_level("INFO", logger="processor_service.processing")

    job_id = harness.process("image.thumbnail", original)

    kinds = ["thumbnail-256", "thumbnail-1024"]
    assert fake_storage.store_calls == [StoreCall(FILE_ID, job_id, kinds)]
    reported = succeeded(event_tap.drain())[job_id]
    key = result_key(REGISTRY["image.thumbnail"], original.checksum.sha256, StepOptions())
    [remembered] = fake_storage.results.values()
    assert as_dict(remembered) == {
        "key": dataclasses.asdict(key),
        "metadata": reported["metadata"],
        "derivatives": reported["derivatives"],
    }
    logged = [r.__dict__["fields"] for r in caplog.records if r.getMessage() == "derivative stored"]
    assert logged == [
        f" job_id={job_id} kind={item['kind']} size={item['object']['size']}"
        for item in reported["derivatives"]
    ]


def test_storage_failing_to_take_the_result_fails_the_attempt_and_the_retry_stores_it(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap, counting: CountingStep
) -> None:
    original = fake_storage.put(b"content whose result storage first refuses")
    fake_storage.failing_stores = 1

    job_id = harness.process("test.count", original)

    ends = [(e.type, payload(e).attempt) for e in event_tap.drain() if e.type != "job.started"]
    assert ends == [("job.failed", 1), ("job.succeeded", 2)]
    assert counting.runs == 2
    assert len(fake_storage.store_calls) == 2
    assert [(d.kind, d.job_id) for d in fake_storage.derivatives] == [("digest", job_id)]


def test_same_content_in_a_second_file_reuses_the_first_files_result_without_reading_it(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap, counting: CountingStep
) -> None:
    original = fake_storage.put(b"the same bytes in two files")

    first = harness.submit("test.count", original, file_id="file-a")
    harness.settle()
    second = harness.submit("test.count", original, file_id="file-b")
    harness.settle()

    assert counting.runs == 1
    assert fake_storage.reads == [original.checksum.sha256]
    results = succeeded(event_tap.drain())
    began = [began_at(results[job].pop("started_at")) for job in (first, second)]
    assert began == sorted(began) and began[0] != began[1]
    assert results[second] == {**results[first], "reused": True}
    assert results[first].get("reused") is None
    derivatives: Any = results[first]["derivatives"]
    [digest] = [item["object"]["checksum"]["sha256"] for item in derivatives]
    assert fake_storage.refs == {
        ("file-a", "digest"): RecordedDerivative("file-a", "digest", first, digest),
        ("file-b", "digest"): RecordedDerivative("file-b", "digest", second, digest),
    }
    assert len(fake_storage.derivatives) == 1


def test_image_thumbnails_of_duplicate_content_are_made_once(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    original = fake_storage.put(png(640, 480))

    harness.process("image.thumbnail", original)
    harness.submit("image.thumbnail", original, file_id="file-2")
    harness.settle()

    assert fake_storage.reads == [original.checksum.sha256]
    assert [d.kind for d in fake_storage.derivatives] == ["thumbnail-256", "thumbnail-1024"]
    assert sorted(fake_storage.refs) == [
        ("file-1", "thumbnail-1024"),
        ("file-1", "thumbnail-256"),
        ("file-2", "thumbnail-1024"),
        ("file-2", "thumbnail-256"),
    ]
    assert [r.get("reused", False) for r in succeeded(event_tap.drain()).values()] == [
        False,
        True,
    ]


def test_a_forced_reprocess_computes_again(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap, counting: CountingStep
) -> None:
    original = fake_storage.put(b"content to reprocess")
    harness.process("test.count", original)

    again = harness.submit("test.count", original, force=True, reprocess=True)
    harness.settle()

    assert counting.runs == 2
    assert fake_storage.reads == [original.checksum.sha256] * 2
    assert fake_storage.lookups == [fake_storage.lookups[0]]  # a forced task never asks
    assert succeeded(event_tap.drain())[again].get("reused") is None


def test_redelivered_message_does_no_work_twice_and_leaves_one_set_of_derivatives(
    harness: Harness, fake_storage: FakeStorage, event_tap: EventTap, counting: CountingStep
) -> None:
    original = fake_storage.put(b"delivered twice")

    job_id = harness.submit("test.count", original)
    harness.settle()
    harness.submit("test.count", original, job_id=job_id)
    harness.settle()

    assert counting.runs == 1
    assert fake_storage.reads == [original.checksum.sha256]
    ends = [(e.type, e.job_id, e.sequence) for e in event_tap.drain() if e.type != "job.started"]
    assert ends == [("job.succeeded", job_id, 12)] * 2  # the same event: applied once
    assert list(fake_storage.refs) == [("file-1", "digest")]
    assert fake_storage.refs["file-1", "digest"].job_id == job_id


def test_other_thumbnail_sizes_name_another_result_and_recompute(
    settings: Settings, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    original = fake_storage.put(png(640, 480))
    for sizes, file_id in (((256, 1024), "file-a"), ((128,), "file-b"), ((256, 1024), "file-c")):
        with Harness(dataclasses.replace(settings, thumbnail_sizes=sizes)) as harness:
            harness.submit("image.thumbnail", original, file_id=file_id)
            harness.settle()

    assert fake_storage.reads == [original.checksum.sha256] * 2
    assert sorted(kind for file_id, kind in fake_storage.refs if file_id == "file-b") == [
        "thumbnail-128"
    ]
    assert sorted(kind for file_id, kind in fake_storage.refs if file_id == "file-c") == [
        "thumbnail-1024",
        "thumbnail-256",
    ]


def test_the_thumbnail_digest_covers_sizes_format_and_pixels_but_not_unrelated_options() -> None:
    step = REGISTRY["image.thumbnail"]
    base = StepOptions()
    digest = options_digest(step, base)

    for changed in (
        dataclasses.replace(base, thumbnail_sizes=(256,)),
        dataclasses.replace(base, thumbnail_format="JPEG"),
        dataclasses.replace(base, max_pixels=1000),
    ):
        assert options_digest(step, changed) != digest
    assert options_digest(step, dataclasses.replace(base, archive_max_entries=1)) == digest
    assert options_digest(step, dataclasses.replace(base, preview_size=10)) == digest


def test_the_digest_is_the_sha256_of_the_canonical_json_of_the_options() -> None:
    canonical = json.dumps(
        {"max_pixels": 50_000_000, "thumbnail_format": "WEBP", "thumbnail_sizes": [256, 1024]},
        sort_keys=True,
        separators=(",", ":"),
    )

    assert result_key(REGISTRY["image.thumbnail"], "AB" * 32, StepOptions()) == ResultKey(
        "ab" * 32, "image.thumbnail", 2, hashlib.sha256(canonical.encode()).hexdigest()
    )


def test_a_step_without_options_has_one_digest_whatever_the_options() -> None:
    step = REGISTRY["checksum"]

    assert options_digest(step, StepOptions()) == hashlib.sha256(b"{}").hexdigest()
    assert options_digest(step, StepOptions(max_pixels=1)) == options_digest(step, StepOptions())
