"""A video's container read with PyAV (FFmpeg in its wheels): its facts for validate and its poster
frame for the preview. PyAV's errors become `VideoUnreadable` here and nowhere else."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error

from scheduler.posts import VideoFacts


class VideoUnreadable(Exception):
    """The file is not a video PyAV can read; `message` says so in a person's words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def probe(path: Path) -> VideoFacts:
    """Duration, size, dimensions, frame rate and codecs of the video at `path`, from its container."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise VideoUnreadable(f"{path.name} has no video track")
            stream = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            seconds = _seconds(container.duration, stream.duration, stream.time_base)
            rate = stream.average_rate or stream.guessed_rate
            return VideoFacts(
                seconds=seconds,
                size=path.stat().st_size,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                fps=round(float(rate), 3) if rate else None,
                video_codec=stream.codec_context.name,
                audio_codec=audio.codec_context.name if audio is not None else None,
            )
    except VideoUnreadable:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoUnreadable(f"{path.name} cannot be read as a video ({_why(exc)}); export it again as .mp4") from None
    except OSError as exc:
        raise VideoUnreadable(f"cannot read {path.name}: {exc.strerror or exc.__class__.__name__}") from None


def poster(path: Path) -> bytes:
    """The first frame of the video at `path` as PNG bytes (what the preview shows for it)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise VideoUnreadable(f"{path.name} has no video track")
            for frame in container.decode(video=0):
                encoder = av.CodecContext.create("png", "w")
                rgb = frame.reformat(format="rgb24")
                encoder.width, encoder.height, encoder.pix_fmt = rgb.width, rgb.height, "rgb24"
                encoded = b"".join(bytes(packet) for packet in [*encoder.encode(rgb), *encoder.encode(None)])
                return encoded
            raise VideoUnreadable(f"{path.name} has no frame to show")
    except VideoUnreadable:
        raise
    except (av.error.FFmpegError, ValueError) as exc:
        raise VideoUnreadable(f"{path.name}: no poster frame ({_why(exc)})") from None
    except OSError as exc:
        raise VideoUnreadable(f"cannot read {path.name}: {exc.strerror or exc.__class__.__name__}") from None


def _seconds(container: int | None, stream: int | None, time_base: Fraction | None) -> float:
    if container is not None:
        return round(container / av.time_base, 3)
    if stream is not None and time_base is not None:
        return round(float(stream * time_base), 3)
    return 0.0


def _why(exc: Exception) -> str:
    """FFmpeg's reason in short (its class name: no path, nothing the file controls beyond that)."""
    return getattr(exc, "strerror", None) or exc.__class__.__name__
