"""Audio and video made with ffmpeg's own test sources, and the marker for tests needing it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HAVE_FFMPEG = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))

# Under CI=true a missing ffmpeg must fail the tests, not hide them.
requires_ffmpeg = pytest.mark.skipif(
    not HAVE_FFMPEG and os.environ.get("CI") != "true",
    reason="ffmpeg/ffprobe are not installed (Debian: apt-get install ffmpeg)",
)


def make_video(path: Path, *, width: int = 320, height: int = 240, seconds: int = 2) -> bytes:
    """An MPEG-4 video with a test pattern and a 440 Hz tone, in an MP4 container."""
    _ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=10:duration={seconds}"],
        ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={seconds}"],
        ["-c:v", "mpeg4", "-c:a", "aac", "-shortest", str(path)],
    )
    return path.read_bytes()


def make_audio(path: Path, *, seconds: int = 1) -> bytes:
    """A WAV file of a 440 Hz tone."""
    _ffmpeg(
        ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=8000:duration={seconds}"],
        ["-c:a", "pcm_s16le", str(path)],
    )
    return path.read_bytes()


def _ffmpeg(*parts: list[str]) -> None:
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    for part in parts:
        command += part
    subprocess.run(command, check=True, timeout=60)
