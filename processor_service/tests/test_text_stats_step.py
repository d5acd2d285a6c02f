from __future__ import annotations

import codecs
import io
import tempfile
import tracemalloc
from typing import Any

import pytest

from processor_service.steps import PermanentError, StepOptions, StepResult, text_stats
from processor_service.tests.images import SVG_WITH_SCRIPT, png, step_input

FRENCH = (
    "Le café était très bon ce matin. La serveuse, une femme âgée à l'allure élégante, "
    "nous a expliqué que la façade du bâtiment datait du dix-neuvième siècle.\n"
    "Nous avons goûté une crème brûlée délicieuse, puis nous sommes allés nous promener "
    "près de la rivière où les garçons jouaient au ballon.\n"
)
JAPANESE = (
    "吾輩は猫である。名前はまだ無い。\n"
    "どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で泣いていた事だけは記憶している。\n"
    "吾輩はここで始めて人間というものを見た。\n"
)


def run(data: bytes, content_type: str = "text/plain", **options: Any) -> StepResult:
    return text_stats.run(io.BytesIO(data), step_input(data, content_type), StepOptions(**options))


def test_utf8_text_is_counted_and_previewed() -> None:
    text = "first line has five words\nsecond  line\n\nlast line without newline"

    assert run(text.encode()).metadata == {
        "encoding": "utf-8",
        "bom": False,
        "lines": 4,
        "words": 11,
        "characters": len(text),
        "preview": text,
    }


def test_utf16_with_bom_is_detected_from_the_bom() -> None:
    text = "hello wörld\nzweite Zeile\n"
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")

    result = run(data, "application/octet-stream").metadata

    assert result == {
        "encoding": "utf-16",
        "bom": True,
        "lines": 2,
        "words": 4,
        "characters": len(text),
        "preview": text,
    }


def test_utf8_with_bom_reports_utf8_and_drops_the_mark() -> None:
    result = run(codecs.BOM_UTF8 + "über alles\n".encode()).metadata

    assert (result["encoding"], result["bom"], result["preview"]) == ("utf-8", True, "über alles\n")


def test_shift_jis_text_is_detected_and_decoded() -> None:
    result = run(JAPANESE.encode("shift_jis"), "application/octet-stream").metadata

    assert result["encoding"] in {"shift_jis", "cp932"}
    assert result["preview"] == JAPANESE
    assert (result["lines"], result["characters"]) == (3, len(JAPANESE))


def test_latin1_text_is_detected_and_decoded() -> None:
    result = run(FRENCH.encode("latin-1"), "application/octet-stream").metadata

    # cp1252 decodes every latin-1 letter the same way; either name is right.
    assert result["encoding"] in {"iso8859-1", "cp1252"}
    assert result["preview"] == FRENCH
    assert (result["lines"], result["words"]) == (2, len(FRENCH.split()))


def test_preview_is_cut_at_the_configured_length_but_counts_cover_everything() -> None:
    text = "abc def\n" * 1000

    result = run(text.encode(), text_preview_chars=10).metadata

    assert result["preview"] == "abc def\nab"
    assert (result["lines"], result["words"], result["characters"]) == (1000, 2000, 8000)


def test_words_split_across_chunks_are_counted_once() -> None:
    # 7-byte words never line up with the 64 KiB chunks, so many are split.
    text = "abcdef " * 200_000

    result = run(text.encode()).metadata

    assert (result["words"], result["lines"]) == (200_000, 1)


def test_empty_file_has_no_lines_words_or_characters() -> None:
    assert run(b"", "application/x-empty").metadata == {
        "encoding": "utf-8",
        "bom": False,
        "lines": 0,
        "words": 0,
        "characters": 0,
        "preview": "",
    }


def test_binary_data_is_refused_as_not_text() -> None:
    with pytest.raises(PermanentError) as caught:
        run(png(64, 64), "image/png")

    assert caught.value.code == "not_text"


def test_svg_with_script_is_only_read_as_text() -> None:
    result = run(SVG_WITH_SCRIPT, "image/svg+xml").metadata

    assert "<script>" in result["preview"]
    assert result["encoding"] == "utf-8"


def test_memory_stays_flat_for_a_large_text() -> None:
    with tempfile.TemporaryFile() as stream:
        for _ in range(20):
            stream.write(("ligne numéro un\n" * 32_000).encode())  # ~0.5 MiB each
        source = step_input(b"", "text/plain")
        tracemalloc.start()
        try:
            result = text_stats.run(stream, source, StepOptions())  # type: ignore[arg-type]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert result.metadata["lines"] == 20 * 32_000
    assert peak < 4 * 1024 * 1024
