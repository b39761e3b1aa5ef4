"""A post's videos checked for one channel: the container read once (scheduler.media.video), each
captions file found and checked against the video's length once, and the facts held against the
network's documented video limits (`MediaRules.video` in the adapter's `Limits`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from scheduler.content.drafts import Draft
from scheduler.content.fields import MediaRef
from scheduler.content.problems import Problem, error
from scheduler.media import captions as captions_file
from scheduler.media import video as video_file
from scheduler.posts import Caption, MediaItem, VideoFacts, VideoRules
from scheduler.words import Said

#: How a caption file's place is resolved, in order: beside the video, beside the post, the campaign root.
Resolve = Callable[[str], tuple[Path | None, int, Said | None]]


def caption_candidates(ref: MediaRef, written: str) -> list[str]:
    """Where `captions: {nl: written}` of `ref` may be, relative to the campaign root, in the order looked at."""
    found = []
    for folder in (PurePosixPath(ref.path).parent, PurePosixPath(ref.file).parent, PurePosixPath(".")):
        candidate = str(folder / written)
        if candidate not in found:
            found.append(candidate)
    return found


class Videos:
    """Video facts and caption checks, each done once per file for a renderer (one plan)."""

    def __init__(self, root: Path, resolve: Resolve) -> None:
        self.root = root
        self.resolve = resolve
        self._facts: dict[Path, VideoFacts | str] = {}
        self._captions: dict[tuple[Path, float], list[Problem]] = {}

    def clear(self) -> None:
        self._facts.clear()
        self._captions.clear()

    def item(
        self, ref: MediaRef, path: Path, channel: str, rules: VideoRules | None
    ) -> tuple[MediaItem, list[Problem]]:
        """The media item of video `ref` (at `path`) for `channel`, and what is wrong with it there."""
        problems: list[Problem] = []
        facts = self._facts.get(path)
        if facts is None:
            try:
                facts = self._facts[path] = video_file.probe(path)
            except video_file.VideoUnreadable as exc:
                facts = self._facts[path] = exc.message
        if isinstance(facts, str):
            problems.append(error(ref.file, ref.line, facts))
            facts = None
        found: list[Caption] = []
        for language, written in ref.captions:
            where = self._caption(ref, written)
            if not isinstance(where, Path):
                problems.append(error(ref.file, ref.line, where))
                continue
            found.append(Caption(language, where))
            if facts is not None:
                problems += self._caption_problems(where, facts.seconds)
        if rules is None:
            problems.append(error(ref.file, ref.line, f"{channel} does not take video ({ref.path})"))
        elif facts is not None:
            over = over_limits(ref.path, path, facts, rules)
            problems += [error(ref.file, ref.line, f"{channel}: {message}") for message in over]
        item = MediaItem(path, ref.alt, "video", tuple(found), ref.no_captions, facts)
        return item, problems

    def _caption(self, ref: MediaRef, written: str) -> Path | Said | str:
        candidates = caption_candidates(ref, written)
        for candidate in candidates:
            if not os.path.lexists(self.root / candidate):  # not here: look in the next place
                continue
            path, _size, problem = self.resolve(candidate)
            return path if path is not None else (problem or f"{candidate} cannot be read")
        places = ", ".join(dict.fromkeys(f"{PurePosixPath(c).parent}/" for c in candidates))
        return f"{ref.path}: captions file {written} not found (looked in {places})"

    def _caption_problems(self, path: Path, seconds: float) -> list[Problem]:
        known = self._captions.get((path, seconds))
        if known is None:
            where = _relative(path, self.root)
            known = self._captions[(path, seconds)] = [
                error(where, found.line or 0, found.message) for found in captions_file.problems(path, seconds)
            ]
        return known


def alone(draft: Draft, channel: str, rules: VideoRules | None) -> list[Problem]:
    """A video goes alone: Mastodon, X, Bluesky, Facebook and Telegram take one video or images, never both."""
    if rules is None or not rules.alone or len(draft.media) < 2 or not any(ref.is_video for ref in draft.media):
        return []
    path, line = draft.line_of("media")
    return [
        error(
            path,
            line,
            f"{channel}: a video goes alone in a post on {rules.network}; this post has {len(draft.media)} media "
            "items: put the video in a post of its own",
        )
    ]


def over_limits(written: str, path: Path, facts: VideoFacts, rules: VideoRules) -> list[str]:
    """Each way the video is over what `rules.network` documents, naming the limit and the network."""
    network, found = rules.network, []
    if path.suffix.lower() not in rules.kinds:
        kinds = ", ".join(sorted(rules.kinds))
        found.append(f"{network} does not take {path.suffix} video ({written}); it takes {kinds}")
    if not rules.sends:
        found.append(f"sending video to {network} is not built yet ({written}); leave this channel out of the post")
    if rules.max_bytes is not None and facts.size > rules.max_bytes:
        found.append(f"{written} is {_mb(facts.size)}; {network} takes videos up to {_mb(rules.max_bytes)}")
    if rules.max_seconds is not None and facts.seconds > rules.max_seconds:
        found.append(
            f"{written} is {facts.seconds:.1f} seconds long; {network} takes videos up to {rules.max_seconds:g} seconds"
        )
    if rules.max_pixels is not None and facts.width * facts.height > rules.max_pixels:
        found.append(
            f"{written} is {facts.width}×{facts.height} pixels; {network} takes at most {rules.max_pixels:,} pixels"
        )
    if rules.max_fps is not None and facts.fps is not None and facts.fps > rules.max_fps:
        found.append(f"{written} has {facts.fps:g} frames per second; {network} takes at most {rules.max_fps:g}")
    if rules.video_codecs is not None and facts.video_codec not in rules.video_codecs:
        codecs = ", ".join(sorted(c.upper() for c in rules.video_codecs))
        found.append(f"{written} is {facts.video_codec.upper()} video; {network} takes {codecs}: export it as such")
    if rules.audio_codecs is not None and facts.audio_codec is not None and facts.audio_codec not in rules.audio_codecs:
        codecs = ", ".join(sorted(c.upper() for c in rules.audio_codecs))
        found.append(f"{written} has {facts.audio_codec.upper()} sound; {network} takes {codecs}: export it as such")
    return found


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
