from __future__ import annotations

import bz2
import functools
import io
import json
import lzma
import random
from typing import Any

import pytest

from processor_service.steps import PermanentError, StepOptions, StepResult, archive_listing
from processor_service.tests import archives
from processor_service.tests.images import png, step_input

NOISE = random.Random(4).randbytes(16_000)


def run(data: bytes, content_type: str = "application/zip", **options: Any) -> StepResult:
    return archive_listing.run(
        io.BytesIO(data), step_input(data, content_type), StepOptions(**options)
    )


def refusal(data: bytes, **options: Any) -> PermanentError:
    with pytest.raises(PermanentError) as caught:
        run(data, **options)
    return caught.value


@functools.cache
def nested_bomb() -> bytes:
    return archives.nested_zip_bomb()


def test_zip_entries_are_listed_with_sizes_without_extracting() -> None:
    data = archives.zip_of({"docs/": b"", "docs/a.txt": b"a" * 1000, "b.bin": bytes(range(256))})

    result = run(data)

    entries = result.metadata["entries"]
    assert [(e["name"], e["size"], e["is_dir"]) for e in entries] == [
        ("docs/", 0, True),
        ("docs/a.txt", 1000, False),
        ("b.bin", 256, False),
    ]
    assert 0 < entries[1]["compressed_size"] < 1000
    assert {k: v for k, v in result.metadata.items() if k != "entries"} == {
        "format": "zip",
        "entry_count": 3,
        "total_size": 1256,
        "archive_size": len(data),
        "truncated": False,
    }
    [listing] = result.derivatives
    assert (listing.kind, listing.content_type) == ("listing", "application/json")
    assert json.loads(listing.data) == {"format": "zip", "entries": entries}


@pytest.mark.parametrize(
    ("compression", "archive_format"),
    [("", "tar"), ("gz", "tar.gz"), ("bz2", "tar.bz2"), ("xz", "tar.xz")],
)
def test_tar_entries_are_listed_whatever_the_compression(
    compression: str, archive_format: str
) -> None:
    data = archives.tar_of(
        {"a.txt": b"hello", "nested.zip": archives.zip_of({"x": b"y"})}, compression
    )

    metadata = run(data, "application/x-tar").metadata

    stored = None if compression else 5
    assert metadata["format"] == archive_format
    assert metadata["entries"][0] == {
        "name": "a.txt",
        "size": 5,
        "compressed_size": stored,
        "is_dir": False,
    }
    assert [(e["name"], e["is_dir"]) for e in metadata["entries"]] == [
        ("a.txt", False),
        ("nested.zip", False),
        ("docs", True),
    ]


@pytest.mark.parametrize(
    ("data", "archive_format", "name"),
    [
        (archives.gzip_of_zeros(1, name="report.csv"), "gzip", "report.csv"),
        (bz2.compress(bytes(1024 * 1024)), "bzip2", ""),
        (lzma.compress(bytes(1024 * 1024)), "xz", ""),
    ],
)
def test_a_lone_compressed_file_is_one_entry_of_its_expanded_size(
    data: bytes, archive_format: str, name: str
) -> None:
    metadata = run(data, "application/gzip").metadata

    assert metadata["format"] == archive_format
    assert [(e["name"], e["size"]) for e in metadata["entries"]] == [(name, 1024 * 1024)]


def test_nested_zip_bomb_is_listed_and_its_inner_archives_never_opened() -> None:
    data = nested_bomb()

    metadata = run(data).metadata

    names = [entry["name"] for entry in metadata["entries"]]
    assert names == [f"layer2-{index}.zip" for index in range(8)]
    # The inner zips' own sizes, nothing of what they would expand to.
    assert metadata["total_size"] < 10 * len(data)


def test_overlapping_zip_bomb_is_refused_as_a_bomb() -> None:
    error = refusal(archives.overlapping_zip_bomb())

    assert error.code == "archive_bomb"
    assert "'file000.bin' and 'file001.bin' overlap" in error.message


def test_zip_expanding_past_the_ratio_is_refused_as_a_bomb() -> None:
    error = refusal(archives.zip_of_zeros("zeros.bin", 80))

    assert error.code == "archive_bomb"
    assert "expands more than 100 times its size" in error.message


def test_gzip_expanding_past_the_ratio_is_refused_before_it_is_all_expanded() -> None:
    data = archives.gzip_of_zeros(80)

    error = refusal(data, archive_max_ratio=10)

    assert error.code == "archive_bomb"


def test_tar_gz_bomb_is_refused_from_its_headers() -> None:
    data = archives.tar_of({"zeros.bin": bytes(70 * 1024 * 1024)}, "gz")

    error = refusal(data)

    assert error.code == "archive_bomb"


def test_small_archive_of_repetitive_data_is_not_called_a_bomb() -> None:
    data = archives.zip_of_zeros("zeros.bin", 10)  # ~200-fold, but only 10 MiB

    assert run(data).metadata["total_size"] == 10 * 1024 * 1024


def test_more_entries_than_allowed_is_too_large() -> None:
    data = archives.zip_of({f"f{index}": b"x" for index in range(11)})

    error = refusal(data, archive_max_entries=10)

    assert (error.code, error.message) == (
        "archive_too_large",
        "the archive has more than 10 entries",
    )


def test_tar_with_more_entries_than_allowed_is_too_large() -> None:
    data = archives.tar_of({f"f{index}": b"x" for index in range(11)}, "gz")

    assert refusal(data, archive_max_entries=10).code == "archive_too_large"


def test_expanded_total_past_the_limit_is_too_large() -> None:
    data = archives.zip_of({"a": b"x" * 600, "b": b"y" * 600})

    error = refusal(data, archive_max_total=1000)

    assert (error.code, error.message) == (
        "archive_too_large",
        "the archive expands to more than 1000 bytes",
    )


def test_metadata_lists_the_first_thousand_entries_and_the_derivative_all() -> None:
    data = archives.zip_of({f"f{index:04d}": b"" for index in range(1200)})

    result = run(data)

    assert len(result.metadata["entries"]) == 1000
    assert (result.metadata["truncated"], result.metadata["entry_count"]) == (True, 1200)
    assert len(json.loads(result.derivatives[0].data)["entries"]) == 1200


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (png(10, 10), "not_an_archive"),
        (b"plain words " * 100, "not_an_archive"),
        (archives.zip_of({"a": b"x" * 5000})[:-30], "not_an_archive"),
        (archives.tar_of({"a": NOISE, "b": NOISE}, "gz")[:8000], "corrupt_archive"),
    ],
    ids=["png", "text", "zip-without-directory", "truncated-tar-gz"],
)
def test_what_is_no_readable_archive_fails_permanently(data: bytes, code: str) -> None:
    assert refusal(data).code == code


def test_zip_entry_running_past_the_end_of_the_file_is_corrupt() -> None:
    data = archives.zip_of({"a": b"x" * 5000})
    body_end = data.index(b"PK\x01\x02")
    # Cut bytes out of the entry's data; the directory still claims them.
    damaged = data[:40] + data[body_end - 10 : body_end] + data[body_end:]

    assert refusal(damaged).code == "corrupt_archive"
