"""The "media.probe" step: duration, codecs and dimensions, and a poster frame.

ffprobe and ffmpeg (the Debian "ffmpeg" package) do the work in processes of their
own, each with a timeout. Only common audio/video demuxers are allowed, so a playlist
or concat script can never make them read other files; the input is passed as a
`file:` URL so no name is ever taken for another protocol. Without the tools the step
reports itself unavailable.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from typing import Any, BinaryIO

from processor_service.steps import (
    DerivativeOutput,
    PermanentError,
    StepInput,
    StepOptions,
    StepResult,
)
from processor_service.steps.imaging import load_pixels, open_image
from processor_service.steps.localfile import local_path
from processor_service.steps.thumbnail import encode

LIMITS = ("preview_size", "max_pixels", "time_limit_s")
PROBE_TIMEOUT_S = 60.0
POSTER_TIMEOUT_S = 120.0
MAX_STREAMS = 32
DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,asf,flv,mpeg,mpegts,mpegvideo,m4v,ogg,"
    "mp3,wav,w64,flac,aac,ac3,eac3,dts,aiff,amr,au,caf,wv,ape,tta,h264,hevc,ivf,nut"
)
UNAVAILABLE = "media.probe needs ffprobe/ffmpeg, which are not installed"


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    ffprobe, ffmpeg = shutil.which("ffprobe"), shutil.which("ffmpeg")
    if ffprobe is None or ffmpeg is None:
        raise PermanentError("step_unavailable", UNAVAILABLE)
    with local_path(stream) as path:
        probed = probe(ffprobe, path, timeout=min(PROBE_TIMEOUT_S, options.time_limit_s))
        metadata = describe(probed)
        has_video = any(item["type"] == "video" for item in metadata["streams"])
        poster = _poster(ffmpeg, path, metadata, options) if has_video else None
    if poster is None:
        return StepResult(metadata=metadata)
    metadata["poster"] = {"width": poster[1], "height": poster[2]}
    kind = f"poster-{options.preview_size}"
    return StepResult(metadata, [DerivativeOutput(kind, "image/webp", poster[0])])


def probe(ffprobe: str, path: str, *, timeout: float) -> dict[str, Any]:
    """ffprobe's JSON description of the file's container and streams."""
    command = [ffprobe, "-v", "error", "-format_whitelist", DEMUXERS, "-print_format", "json"]
    command += ["-show_format", "-show_streams", f"file:{path}"]
    output = _run(command, timeout=timeout, what="ffprobe")
    try:
        probed = json.loads(output)
    except ValueError:
        raise PermanentError("not_media", "ffprobe gave no readable description") from None
    if not isinstance(probed, dict) or "format" not in probed:
        raise PermanentError("not_media", "ffprobe found no audio or video in the file")
    return probed


def describe(probed: dict[str, Any]) -> dict[str, Any]:
    container = probed.get("format", {})
    streams = [_stream(item) for item in probed.get("streams", [])[:MAX_STREAMS]]
    metadata: dict[str, Any] = {
        "format": str(container.get("format_name", "")),
        "duration": _number(container.get("duration")),
        "bit_rate": _number(container.get("bit_rate")),
        "streams": streams,
    }
    video = next((item for item in streams if item["type"] == "video"), None)
    audio = next((item for item in streams if item["type"] == "audio"), None)
    if video is not None:
        metadata.update(width=video["width"], height=video["height"], video_codec=video["codec"])
    if audio is not None:
        metadata["audio_codec"] = audio["codec"]
    return metadata


def _stream(item: dict[str, Any]) -> dict[str, Any]:
    kind = str(item.get("codec_type", ""))
    described: dict[str, Any] = {"type": kind, "codec": str(item.get("codec_name", ""))}
    if kind == "video":
        described.update(width=_number(item.get("width")), height=_number(item.get("height")))
    if kind == "audio":
        described["sample_rate"] = _number(item.get("sample_rate"))
        described["channels"] = _number(item.get("channels"))
    return described


def _poster(
    ffmpeg: str, path: str, metadata: dict[str, Any], options: StepOptions
) -> tuple[bytes, int, int] | None:
    """A frame from early in the video, as WebP no larger than `preview_size`."""
    duration = metadata["duration"] or 0.0
    size = options.preview_size
    fit = f"scale='min({size},iw)':'min({size},ih)':force_original_aspect_ratio=decrease"
    command = [ffmpeg, "-nostdin", "-v", "error", "-threads", "1"]
    command += ["-format_whitelist", DEMUXERS, "-ss", f"{min(1.0, duration / 2):.3f}"]
    command += ["-i", f"file:{path}", "-map", "0:v:0", "-frames:v", "1", "-vf", fit]
    command += ["-f", "image2pipe", "-c:v", "png", "pipe:1"]
    frame = _run(command, timeout=min(POSTER_TIMEOUT_S, options.time_limit_s), what="ffmpeg")
    if not frame:
        return None
    with open_image(io.BytesIO(frame), max_pixels=options.max_pixels) as image:
        load_pixels(image)
        rgb = image.convert("RGB")
    return encode(rgb, output_format="WEBP"), rgb.width, rgb.height


def _run(command: list[str], *, timeout: float, what: str) -> bytes:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed tools; the path is our own file
            command, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        raise PermanentError("media_timeout", f"{what} took longer than {timeout:g}s") from None
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {completed.returncode}"
        raise PermanentError("not_media", f"{what} cannot read the file: {reason}")
    return completed.stdout


def _number(value: Any) -> float | int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number
