"""A video's captions file (.vtt with webvtt-py, .srt with srt): its cues read, and each cue checked
to fall inside the video. The libraries' errors become `CaptionsProblem`s here and nowhere else."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import srt
import webvtt
import webvtt.errors

_VTT_TIMING = re.compile(r"^\s*(\d+:)?\d{2}:\d{2}\.\d{3}\s+-->\s+(\d+:)?\d{2}:\d{2}\.\d{3}(\s|$)")


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    line: int  # of its timing line (`00:00:01.000 --> 00:00:02.500`), from 1


@dataclass(frozen=True)
class CaptionsProblem:
    """What is wrong with a captions file, at `line` of it (None: the file as a whole)."""

    message: str
    line: int | None = None


def read(path: Path) -> list[Cue]:
    """The cues of the captions file at `path`, in order; CaptionsProblem if it does not parse."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CaptionsUnreadable(CaptionsProblem(f"{path.name} is not UTF-8 text; save it as UTF-8")) from None
    except OSError as exc:
        raise CaptionsUnreadable(CaptionsProblem(f"cannot read {path.name}: {exc.strerror}")) from None
    timing_lines = [number for number, line in enumerate(text.splitlines(), 1) if "-->" in line]
    times = _srt_times(path, text) if path.suffix.lower() == ".srt" else _vtt_times(path, text)
    if not times:
        raise CaptionsUnreadable(CaptionsProblem(f"{path.name} has no cues"))
    lines = timing_lines if len(timing_lines) == len(times) else [0] * len(times)
    return [Cue(start, end, line) for (start, end), line in zip(times, lines, strict=True)]


class CaptionsUnreadable(Exception):
    def __init__(self, problem: CaptionsProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def problems(path: Path, seconds: float) -> list[CaptionsProblem]:
    """Everything wrong with the captions at `path` for a video of `seconds`: it does not parse, or a
    cue ends before it starts or lies (partly) outside the video."""
    try:
        cues = read(path)
    except CaptionsUnreadable as exc:
        return [exc.problem]
    found = []
    for cue in cues:
        at = cue.line or None
        when = f"{_clock(cue.start)} --> {_clock(cue.end)}"
        if cue.end < cue.start:
            found.append(CaptionsProblem(f"{path.name}: cue {when} ends before it starts", at))
        elif cue.end > seconds + 0.001:
            found.append(
                CaptionsProblem(
                    f"{path.name}: cue {when} ends after the video, which is {_clock(seconds)} long; "
                    "fix its time or the file it was made for",
                    at,
                )
            )
    return found


def as_webvtt(path: Path) -> bytes:
    """The captions file at `path` as WebVTT (UTF-8): a .vtt as it is, an .srt converted by webvtt-py,
    for a network that takes WebVTT only (Bluesky). CaptionsUnreadable if it does not read."""
    read(path)  # the same checks, and the same words, as validate
    if path.suffix.lower() != ".srt":
        return path.read_bytes()
    text = path.read_text(encoding="utf-8-sig")
    try:
        converted = webvtt.from_buffer(io.StringIO(text), format="srt")
    except (webvtt.errors.MalformedFileError, webvtt.errors.MalformedCaptionError, ValueError):
        raise CaptionsUnreadable(CaptionsProblem(f"{path.name} cannot be converted to WebVTT")) from None
    return converted.content.encode("utf-8")


def _vtt_times(path: Path, text: str) -> list[tuple[float, float]]:
    try:
        captions = webvtt.from_buffer(io.StringIO(text), strict=True)
    except webvtt.errors.MalformedFileError:
        message = f"{path.name} is not a WebVTT file: its first line must be WEBVTT"
        raise CaptionsUnreadable(CaptionsProblem(message, 1)) from None
    except (webvtt.errors.MalformedCaptionError, ValueError):
        # The library does not say where; the first timing line that is not one is the likely place.
        lines = text.splitlines()
        at = next((n for n, line in enumerate(lines, 1) if "-->" in line and not _VTT_TIMING.match(line)), None)
        raise CaptionsUnreadable(
            CaptionsProblem(
                f"{path.name} has a cue that does not read: each cue needs a line `00:00:01.000 --> 00:00:03.000`", at
            )
        ) from None
    return [(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000) for c in captions.captions]


def _srt_times(path: Path, text: str) -> list[tuple[float, float]]:
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        line = text.count("\n", 0, exc.expected_start) + 1
        raise CaptionsUnreadable(
            CaptionsProblem(
                f"{path.name} is not an SRT file from here on: each cue is a number, a line "
                "`00:00:01,000 --> 00:00:03,000` and its text",
                line,
            )
        ) from None
    except (srt.TimestampParseError, ValueError):
        raise CaptionsUnreadable(CaptionsProblem(f"{path.name} has a time that is not `00:00:01,000`")) from None
    return [(s.start.total_seconds(), s.end.total_seconds()) for s in subtitles]


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:06.3f}"


def as_srt(path: Path) -> str:
    """The captions at `path` as SubRip text (a network that takes only .srt): a .vtt converted by webvtt-py."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptionsUnreadable(CaptionsProblem(f"cannot read {path.name}: {exc}")) from None
    if path.suffix.lower() == ".srt":
        return text
    converted = io.StringIO()
    try:
        webvtt.from_buffer(io.StringIO(text)).write(converted, format="srt")
    except (webvtt.errors.MalformedFileError, webvtt.errors.MalformedCaptionError, ValueError):
        raise CaptionsUnreadable(CaptionsProblem(f"{path.name} is not a WebVTT file that reads")) from None
    return converted.getvalue()
