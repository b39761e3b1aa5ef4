"""The values that cross from the files → plan half to the publish half: what goes to one channel,
and the offline rules a channel's posts must meet. Beneath both halves, so neither imports the other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scheduler.words import N_, Said

_UNITS = (N_("characters"), N_("graphemes"), N_("weighted characters"))  # LengthRule.unit, for the catalogs


@dataclass(frozen=True)
class LengthRule:
    """How one network measures a post and the most it takes (scheduler.content.text has the ways of counting)."""

    unit: str
    limit: int | None
    count: Callable[[str], int]
    max_bytes: int | None = None  # UTF-8 bytes, where a network also limits those (Bluesky)

    def measure(self, text: str) -> int:
        return self.count(text)

    def problems(self, text: str, length: int | None = None) -> list[str]:
        """Messages for every way `text` is over this rule's limits, in English (an adapter's refusal)."""
        return [str(said) for said in self.said(text, length)]

    def said(self, text: str, length: int | None = None) -> list[Said]:
        """`problems`, kept for translation: the preview shows them in the campaign's language."""
        found = []
        length = self.measure(text) if length is None else length
        if self.limit is not None and length > self.limit:
            found.append(
                Said.of(
                    N_("text is {length} {unit}, over the limit of {limit}"),
                    length=length,
                    unit=Said.of(self.unit),
                    limit=self.limit,
                )
            )
        if self.max_bytes is not None and (size := len(text.encode("utf-8"))) > self.max_bytes:
            found.append(
                Said.of(N_("text is {size} UTF-8 bytes, over the limit of {limit}"), size=size, limit=self.max_bytes)
            )
        return found


@dataclass(frozen=True)
class MediaRules:
    """What a network accepts as attachments to one post."""

    max_items: int | None = None  # None: no limit
    max_bytes: int | None = None  # per item
    kinds: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})
    # How far an image is scaled down before it goes out (scheduler.media.renditions); None: no such limit.
    max_side: int | None = None  # the longest side, in pixels
    max_pixels: int | None = None  # width × height
    max_side_sum: int | None = None  # width + height (Telegram)
    max_ratio: float | None = None  # longest side / shortest side (Telegram): scaling cannot change it
    transparency: bool = True  # PNG alpha is kept; False: flattened on white
    video: VideoRules | None = None  # None: this network's adapter takes no video


#: The video files a post's `media:` may hold (the rest of a media item is an image).
VIDEO_KINDS = frozenset({".mp4", ".mov", ".webm"})


@dataclass(frozen=True)
class VideoRules:
    """What a network documents it takes as one video; None: no limit said. `network` names it in messages."""

    network: str
    kinds: frozenset[str] = VIDEO_KINDS
    max_bytes: int | None = None
    max_seconds: float | None = None
    max_pixels: int | None = None  # width × height
    max_fps: float | None = None
    video_codecs: tuple[str, ...] | None = None  # FFmpeg's names: h264, hevc, vp9, av1 ...
    audio_codecs: tuple[str, ...] | None = None  # aac, opus ...; a video without sound always passes
    #: False: the limits are documented here, but this adapter cannot send a video yet.
    sends: bool = True
    alone: bool = True  # a video is the post's only media item (true of every network built in)
    min_bytes: int | None = None  # the smallest file the network takes (LinkedIn: 75 KB)
    min_seconds: float | None = None  # the shortest video the network takes (LinkedIn: 3 s)


@dataclass(frozen=True)
class TitleRule:
    """A network where every post needs a title (YouTube): at most `limit` characters, and none of the
    characters in `forbidden`, which the network also refuses in the text."""

    limit: int
    forbidden: str = ""


@dataclass(frozen=True)
class Limits:
    """Offline rules of a channel, used by `campaign validate` and the preview."""

    length: LengthRule
    media: MediaRules = field(default_factory=MediaRules)
    length_with_media: LengthRule | None = None  # e.g. Telegram's 1024 for a photo caption
    network: str = ""  # the type whose rules these are (a dry run `like: mastodon` has mastodon's)
    replies: bool = False  # a post can answer another: `thread: true` splits a long text here
    title: TitleRule | None = None  # a post needs a `title:` (YouTube's video title)
    needs_video: bool = False  # a post is one video (YouTube): without one it is an error
    needs_media: bool = False  # no text-only posts (Instagram): a post without an image or video is an error
    max_hashtags: int | None = None  # hashtags the network takes in one post (Instagram: 30); more is an error
    #: The network fetches media from the campaign's public address (`media_url:` in channels.yml, Instagram).
    public_media: bool = False

    def length_for(self, has_media: bool) -> LengthRule:
        return self.length_with_media if (has_media and self.length_with_media) else self.length


@dataclass(frozen=True)
class VideoFacts:
    """What a video's container says (scheduler.media.video reads it)."""

    seconds: float
    size: int  # bytes
    width: int
    height: int
    fps: float | None
    video_codec: str  # FFmpeg's name: h264, hevc, vp9 ...
    audio_codec: str | None  # None: no sound track


@dataclass(frozen=True)
class Caption:
    """One captions file of a video: its language and where it is (absolute, inside the campaign root)."""

    language: str
    path: Path


@dataclass(frozen=True)
class MediaItem:
    path: Path  # absolute, checked to be inside the campaign root
    alt: str
    kind: str = "image"  # or "video"
    captions: tuple[Caption, ...] = ()  # a video's, one per language
    no_captions: str | None = None  # a video without captions: why (`captions: {none: "no speech"}`)
    video: VideoFacts | None = None  # a video's facts as validate read them

    @property
    def is_video(self) -> bool:
        return self.kind == "video"


@dataclass(frozen=True)
class LinkCard:
    """Title and description for the link card of the first link (front matter `card:`)."""

    title: str | None = None
    description: str | None = None


#: What the daemon does with a send whose link is dead just before it goes out (`link_check:`):
#: hold it and alert, send it and alert, or not look.
LINK_CHECKS = ("hold", "warn", "off")


@dataclass(frozen=True)
class RenderedPost:
    """Exactly what goes to one channel: the output of scheduler.content.render."""

    post: str  # the post's identity (path under posts/ without .md, or its `id:`)
    channel: str  # the channel's name in channels.yml
    text: str
    media: tuple[MediaItem, ...] = ()
    language: str = "nl"
    card: LinkCard | None = None
    title: str | None = None
    #: A thread, every part as it goes out (`text` is the first); empty: one post, `text` is it.
    parts: tuple[str, ...] = ()
    link_check: str = "hold"  # one of LINK_CHECKS

    @property
    def thread(self) -> tuple[str, ...]:
        """Every post this goes out as, in order."""
        return self.parts or (self.text,)
