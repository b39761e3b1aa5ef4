"""Small test videos made with PyAV (H.264 + AAC in .mp4), so no test downloads media."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av


def make_video(
    path: Path, *, seconds: float = 2.0, width: int = 64, height: int = 48, fps: int = 10, audio: bool = True
) -> Path:
    """Write a `seconds`-long video of coloured frames (and a tone) to `path`; return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264" if path.suffix != ".webm" else "libvpx-vp9", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac" if path.suffix != ".webm" else "libopus", rate=48000) if audio else None
        frames = round(seconds * fps)
        for n in range(frames):
            frame = av.VideoFrame(width, height, "rgb24")
            plane = frame.planes[0]
            plane.update(bytes([(n * 20) % 256]) * plane.buffer_size)
            frame.pts, frame.time_base = n, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            samples_per_frame = 1024
            total = round(seconds * 48000)
            for start in range(0, total, samples_per_frame):
                count = min(samples_per_frame, total - start)
                chunk = av.AudioFrame(format="fltp", layout="mono", samples=count)
                chunk.planes[0].update(bytes(chunk.planes[0].buffer_size))  # silence
                chunk.sample_rate, chunk.pts, chunk.time_base = 48000, start, Fraction(1, 48000)
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def write_vtt(path: Path, *cues: tuple[str, str, str]) -> Path:
    """A WebVTT file with `cues` of (start, end, text), times as `00:00:01.000`."""
    body = "".join(f"{start} --> {end}\n{text}\n\n" for start, end, text in cues)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"WEBVTT\n\n{body}", encoding="utf-8")
    return path


def pad_video(path: Path, size: int) -> Path:
    """Grow the video at `path` to `size` bytes with a trailing MP4 `free` box (players and PyAV skip it)."""
    pad = size - path.stat().st_size
    with path.open("ab") as out:
        out.write(struct.pack(">I", pad) + b"free")
        out.write(bytes(pad - 8))
    return path
