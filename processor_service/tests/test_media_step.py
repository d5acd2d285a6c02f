from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from processor_service.steps import PermanentError, StepOptions, StepResult, media_probe
from processor_service.tests.event_tap import EventTap
from processor_service.tests.fake_storage import FakeStorage
from processor_service.tests.harness import Harness, as_dict, payload
from processor_service.tests.images import png, step_input
from processor_service.tests.media import make_audio, make_video, requires_ffmpeg


def run(data: bytes, content_type: str = "video/mp4", **options: Any) -> StepResult:
    return media_probe.run(io.BytesIO(data), step_input(data, content_type), StepOptions(**options))


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4")


@pytest.fixture(scope="module")
def large_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_video(tmp_path_factory.mktemp("media") / "wide.mp4", width=1600, height=900)


@requires_ffmpeg
def test_video_gets_duration_codecs_dimensions_and_a_webp_poster(video: bytes) -> None:
    result = run(video)

    metadata = result.metadata
    assert metadata["format"] == "mov,mp4,m4a,3gp,3g2,mj2"
    assert metadata["duration"] == pytest.approx(2.0, abs=0.1)
    assert (metadata["width"], metadata["height"]) == (320, 240)
    assert (metadata["video_codec"], metadata["audio_codec"]) == ("mpeg4", "aac")
    assert [(s["type"], s["codec"]) for s in metadata["streams"]] == [
        ("video", "mpeg4"),
        ("audio", "aac"),
    ]
    assert metadata["streams"][1]["sample_rate"] == 22050
    assert metadata["poster"] == {"width": 320, "height": 240}
    [poster] = result.derivatives
    assert (poster.kind, poster.content_type) == ("poster-1024", "image/webp")
    with Image.open(io.BytesIO(poster.data)) as image:
        assert (image.format, image.size) == ("WEBP", (320, 240))


@requires_ffmpeg
def test_poster_of_a_large_video_fits_the_preview_size(large_video: bytes) -> None:
    result = run(large_video)

    assert result.metadata["poster"] == {"width": 1024, "height": 576}


@requires_ffmpeg
def test_audio_gets_duration_and_codec_and_no_poster(tmp_path: Path) -> None:
    result = run(make_audio(tmp_path / "tone.wav"), "audio/x-wav")

    metadata = dict(result.metadata)
    # 8000 samples of 16 bits a second, and the header on top.
    assert metadata.pop("bit_rate") == pytest.approx(128_000, rel=0.02)
    assert metadata == {
        "format": "wav",
        "duration": 1,
        "streams": [{"type": "audio", "codec": "pcm_s16le", "sample_rate": 8000, "channels": 1}],
        "audio_codec": "pcm_s16le",
    }
    assert result.derivatives == []


@requires_ffmpeg
@pytest.mark.parametrize(
    "data",
    [
        png(40, 40),
        b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        b"ffconcat version 1.0\nfile /etc/passwd\n",
    ],
    ids=["image", "playlist-pointing-at-a-local-file", "concat-script"],
)
def test_what_is_no_allowed_media_fails_permanently_without_reading_other_files(
    data: bytes,
) -> None:
    with pytest.raises(PermanentError) as caught:
        run(data)

    assert caught.value.code == "not_media"


@requires_ffmpeg
def test_a_stuck_probe_is_stopped_at_the_time_limit(
    video: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = tmp_path / "ffprobe"
    stuck.write_text("#!/bin/sh\nexec sleep 30\n")
    stuck.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(media_probe, "PROBE_TIMEOUT_S", 0.5)
    started = time.monotonic()

    with pytest.raises(PermanentError) as caught:
        run(video)

    assert (caught.value.code, caught.value.message) == (
        "media_timeout",
        "ffprobe took longer than 0.5s",
    )
    assert time.monotonic() - started < 5


def test_without_ffmpeg_the_step_reports_itself_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(PermanentError) as caught:
        run(b"\x00\x00\x00\x18ftypmp42")

    assert (caught.value.code, caught.value.message) == (
        "step_unavailable",
        "media.probe needs ffprobe/ffmpeg, which are not installed",
    )


@requires_ffmpeg
def test_media_job_probes_in_the_sandbox_and_stores_the_poster(
    video: bytes, harness: Harness, fake_storage: FakeStorage, event_tap: EventTap
) -> None:
    job_id = harness.process("media.probe", fake_storage.put(video))

    _, succeeded = event_tap.drain()
    metadata = as_dict(payload(succeeded))["metadata"]
    assert (metadata["width"], metadata["video_codec"]) == (320.0, "mpeg4")
    assert [(d.kind, d.job_id) for d in fake_storage.derivatives] == [("poster-1024", job_id)]
