"""A video's container read with PyAV (FFmpeg in its wheels): its facts for validate and its poster
frame for the preview. PyAV's errors become `VideoUnreadable` here and nowhere else."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from scheduler.posts import VideoFacts
from scheduler.words import N_, Said


class VideoUnreadable(Exception):
    """The file is not a video PyAV can read; `message` says so in a person's words (English), `said` keeps
    it for the pages that show it in the campaign's language."""

    def __init__(self, said: Said) -> None:
        super().__init__(str(said))
        self.message = str(said)
        self.said = said


def probe(path: Path) -> VideoFacts:
    """Duration, size, dimensions, frame rate and codecs of the video at `path`, from its container."""
    # PyAV (FFmpeg) is imported when a video is met: a daemon starting to send what is due waits for no more.
    import av
    import av.error

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise VideoUnreadable(Said.of(N_("{name} has no video track"), name=path.name))
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
        raise VideoUnreadable(
            Said.of(
                N_("{name} cannot be read as a video ({why}); export it again as .mp4"), name=path.name, why=_why(exc)
            )
        ) from None
    except OSError as exc:
        raise VideoUnreadable(_cannot_read(path, exc)) from None


def poster(path: Path) -> bytes:
    """The first frame of the video at `path` as PNG bytes (what the preview shows for it)."""
    import av
    import av.error

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise VideoUnreadable(Said.of(N_("{name} has no video track"), name=path.name))
            for frame in container.decode(video=0):
                encoder = av.CodecContext.create("png", "w")
                rgb = frame.reformat(format="rgb24")
                encoder.width, encoder.height, encoder.pix_fmt = rgb.width, rgb.height, "rgb24"
                encoded = b"".join(bytes(packet) for packet in [*encoder.encode(rgb), *encoder.encode(None)])
                return encoded
            raise VideoUnreadable(Said.of(N_("{name} has no frame to show"), name=path.name))
    except VideoUnreadable:
        raise
    except (av.error.FFmpegError, ValueError) as exc:
        raise VideoUnreadable(Said.of(N_("{name}: no poster frame ({why})"), name=path.name, why=_why(exc))) from None
    except OSError as exc:
        raise VideoUnreadable(_cannot_read(path, exc)) from None


def _cannot_read(path: Path, exc: OSError) -> Said:
    # The system's reason stays in its own (English) words, as a library's do.
    return Said.of(N_("cannot read {name}: {why}"), name=path.name, why=exc.strerror or exc.__class__.__name__)


def _seconds(container: int | None, stream: int | None, time_base: Fraction | None) -> float:
    import av

    if container is not None:
        return round(container / av.time_base, 3)
    if stream is not None and time_base is not None:
        return round(float(stream * time_base), 3)
    return 0.0


def _why(exc: Exception) -> str:
    """FFmpeg's reason in short (its class name: no path, nothing the file controls beyond that)."""
    return getattr(exc, "strerror", None) or exc.__class__.__name__
