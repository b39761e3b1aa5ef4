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
from scheduler.posts import Caption, Limits, MediaItem, VideoFacts, VideoRules
from scheduler.words import N_, Said

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
        self._facts: dict[Path, VideoFacts | Said] = {}
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
                facts = self._facts[path] = exc.said
        if isinstance(facts, Said):
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
            said = Said.of(N_("{channel} does not take video ({path})"), channel=channel, path=ref.path)
            problems.append(error(ref.file, ref.line, said))
        elif facts is not None:
            over = over_limits(ref.path, path, facts, rules)
            problems += [
                error(ref.file, ref.line, Said.of(N_("{channel}: {problem}"), channel=channel, problem=message))
                for message in over
            ]
        item = MediaItem(path, ref.alt, "video", tuple(found), ref.no_captions, facts)
        return item, problems

    def _caption(self, ref: MediaRef, written: str) -> Path | Said:
        candidates = caption_candidates(ref, written)
        for candidate in candidates:
            if not os.path.lexists(self.root / candidate):  # not here: look in the next place
                continue
            path, _size, problem = self.resolve(candidate)
            return path if path is not None else (problem or Said.of(N_("{path} cannot be read"), path=candidate))
        places = ", ".join(dict.fromkeys(f"{PurePosixPath(c).parent}/" for c in candidates))
        return Said.of(
            N_("{video}: captions file {file} not found (looked in {places})"),
            video=ref.path,
            file=written,
            places=places,
        )

    def _caption_problems(self, path: Path, seconds: float) -> list[Problem]:
        known = self._captions.get((path, seconds))
        if known is None:
            where = _relative(path, self.root)
            known = self._captions[(path, seconds)] = [
                error(where, found.line or 0, found.said) for found in captions_file.problems(path, seconds)
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
            Said.of(
                N_(
                    "{channel}: a video goes alone in a post on {network}; this post has {n} media items: "
                    "put the video in a post of its own"
                ),
                channel=channel,
                network=rules.network,
                n=len(draft.media),
            ),
        )
    ]


def title_and_video(draft: Draft, channel: str, limits: Limits, text: str, where: tuple[str, int]) -> list[Problem]:
    """What a network that publishes a post as one titled video (YouTube) needs: a `title:` within its
    rule, one video, and none of the characters it refuses in the title or the text (`where`: the text's line)."""
    found: list[Problem] = []
    rule = limits.title
    network = (limits.media.video.network if limits.media.video else None) or channel
    if rule is not None:
        path, line = draft.line_of("title") if draft.title else (draft.path, 1)
        title = (draft.title or "").strip()
        if not title:
            said = Said.of(
                N_("{channel}: a post on {network} needs a `title:` (the video's title)"),
                channel=channel,
                network=network,
            )
            found.append(error(path, line, said))
        elif len(title) > rule.limit:
            said = Said.of(
                N_("{channel}: the title is {n} characters; {network} takes {most}"),
                channel=channel,
                n=len(title),
                network=network,
                most=rule.limit,
            )
            found.append(error(path, line, said))
        refused = sorted({c for c in title if c in rule.forbidden})
        if refused:
            said = Said.of(
                N_("{channel}: {network} refuses {characters} in a title"),
                channel=channel,
                network=network,
                characters=" ".join(refused),
            )
            found.append(error(path, line, said))
        refused = sorted({c for c in text if c in rule.forbidden})
        if refused:
            said = Said.of(
                N_("{channel}: {network} refuses {characters} in a description"),
                channel=channel,
                network=network,
                characters=" ".join(refused),
            )
            found.append(error(where[0], where[1], said))
    if limits.needs_video and sum(1 for ref in draft.media if ref.is_video) != 1:
        path, line = draft.line_of("media") if draft.media else (draft.path, 1)
        said = Said.of(
            N_("{channel}: a post on {network} is exactly one video under `media:`"), channel=channel, network=network
        )
        found.append(error(path, line, said))
    return found


def over_limits(written: str, path: Path, facts: VideoFacts, rules: VideoRules) -> list[Said]:
    """Each way the video is over what `rules.network` documents, naming the limit and the network."""
    network, found = rules.network, []
    if path.suffix.lower() not in rules.kinds:
        kinds = ", ".join(sorted(rules.kinds))
        found.append(
            Said.of(
                N_("{network} does not take {kind} video ({path}); it takes {kinds}"),
                network=network,
                kind=path.suffix,
                path=written,
                kinds=kinds,
            )
        )
    if not rules.sends:
        found.append(
            Said.of(
                N_("sending video to {network} is not built yet ({path}); leave this channel out of the post"),
                network=network,
                path=written,
            )
        )
    if rules.max_bytes is not None and facts.size > rules.max_bytes:
        found.append(
            Said.of(
                N_("{path} is {size}; {network} takes videos up to {most}"),
                path=written,
                size=_mb(facts.size),
                network=network,
                most=_mb(rules.max_bytes),
            )
        )
    if rules.min_bytes is not None and facts.size < rules.min_bytes:
        found.append(
            Said.of(
                N_("{path} is {size}; {network} takes videos of at least {least}"),
                path=written,
                size=_kb(facts.size),
                network=network,
                least=_kb(rules.min_bytes),
            )
        )
    if rules.min_seconds is not None and facts.seconds < rules.min_seconds:
        found.append(
            Said.of(
                N_("{path} is {seconds} seconds long; {network} takes videos of at least {least} seconds"),
                path=written,
                seconds=f"{facts.seconds:.1f}",
                network=network,
                least=f"{rules.min_seconds:g}",
            )
        )
    if rules.max_seconds is not None and facts.seconds > rules.max_seconds:
        found.append(
            Said.of(
                N_("{path} is {seconds} seconds long; {network} takes videos up to {most} seconds"),
                path=written,
                seconds=f"{facts.seconds:.1f}",
                network=network,
                most=f"{rules.max_seconds:g}",
            )
        )
    if rules.max_pixels is not None and facts.width * facts.height > rules.max_pixels:
        found.append(
            Said.of(
                N_("{path} is {width}×{height} pixels; {network} takes at most {most} pixels"),
                path=written,
                width=facts.width,
                height=facts.height,
                network=network,
                most=f"{rules.max_pixels:,}",
            )
        )
    if rules.max_fps is not None and facts.fps is not None and facts.fps > rules.max_fps:
        found.append(
            Said.of(
                N_("{path} has {fps} frames per second; {network} takes at most {most}"),
                path=written,
                fps=f"{facts.fps:g}",
                network=network,
                most=f"{rules.max_fps:g}",
            )
        )
    if rules.video_codecs is not None and facts.video_codec not in rules.video_codecs:
        codecs = ", ".join(sorted(c.upper() for c in rules.video_codecs))
        found.append(
            Said.of(
                N_("{path} is {codec} video; {network} takes {codecs}: export it as such"),
                path=written,
                codec=facts.video_codec.upper(),
                network=network,
                codecs=codecs,
            )
        )
    if rules.audio_codecs is not None and facts.audio_codec is not None and facts.audio_codec not in rules.audio_codecs:
        codecs = ", ".join(sorted(c.upper() for c in rules.audio_codecs))
        found.append(
            Said.of(
                N_("{path} has {codec} sound; {network} takes {codecs}: export it as such"),
                path=written,
                codec=facts.audio_codec.upper(),
                network=network,
                codecs=codecs,
            )
        )
    return found


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def _kb(size: int) -> str:
    return f"{size / 1000:,.1f} KB"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
