"""Length as each network counts it.

Mastodon counts grapheme clusters with every http(s) URL as 23 and a remote mention as its
local part; Bluesky counts graphemes and UTF-8 bytes; X weighs characters by twitter-text v3
(URLs 23, CJK and emoji 2); Telegram counts UTF-16 code units.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import regex

_GRAPHEME = regex.compile(r"\X")
_MENTION = regex.compile(r"(?<![\w@])(@\w+)@[\w.-]+\w", regex.ASCII)
URL_LENGTH = 23
MAX_URL = 1_000  # characters; longer words are not searched for URLs
_WORD = regex.compile(r"\S+")


@cache
def _twitter_text() -> Any:  # the library has no type hints
    """twitter-text, imported on first need: loading its emoji table takes longer than planning 1,000 posts."""
    import twitter_text

    return twitter_text


def graphemes(text: str) -> int:
    """User-perceived characters: an emoji ZWJ family or e + combining accent is one."""
    if text.isascii():
        return len(text)  # fast path: ASCII has no multi-code-point clusters except CR LF
        # (CR LF is one grapheme; drafts are read with universal newlines, so it never occurs)
    return sum(1 for _ in _GRAPHEME.finditer(text))


def _url_candidates(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every URL twitter-text finds, with or without a scheme.

    A URL never spans white space, so each word is searched on its own, and a word longer than
    MAX_URL is counted as plain text: twitter-text's pattern takes seconds on such words.
    """
    found = []
    for word in _WORD.finditer(text):
        if len(word.group()) > MAX_URL or not _MAYBE_URL.search(word.group()):
            continue
        for item in _twitter_text().extract_urls_with_indices(word.group()):
            start, end = item["indices"]
            found.append((word.start() + start, word.start() + end, item["url"]))
    return found


def urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every http(s) URL, as twitter-text finds them."""
    return [span for span in _url_candidates(text) if span[2].lower().startswith(("http://", "https://"))]


def mastodon_length(text: str) -> int:
    if "http" in text:
        pieces, last = [], 0
        for start, end, _ in urls(text):
            pieces.append(text[last:start])
            pieces.append("x" * URL_LENGTH)
            last = end
        pieces.append(text[last:])
        text = "".join(pieces)
    if "@" in text:
        text = _MENTION.sub(r"\1", text)
    return graphemes(text)


# twitter-text v3 weighs these code points 1 and everything else 2; below U+2000 the only
# emoji are © and ® (keycaps need U+20E3), so text made of these is counted without the
# library's slow emoji scan, with the same result (tests/unit/test_text.py compares both).
_LIGHT = regex.compile(r"^[\x00-\u10ff]*$")
_MAYBE_URL = regex.compile(r"[\w-]\.[^\W\d_]{2}")  # a dot then two letters: any domain has it
_EMOJI_BELOW_2000 = ("\u00a9", "\u00ae")


def x_weighted_length(text: str) -> int:
    normalized = unicodedata.normalize("NFC", text)
    if _LIGHT.match(normalized) and not any(c in normalized for c in _EMOJI_BELOW_2000):
        length = len(normalized)
        if _MAYBE_URL.search(normalized):  # twitter-text also finds URLs without a scheme
            for start, end, _ in _url_candidates(normalized):
                length += URL_LENGTH - (end - start)
        return length
    return int(_twitter_text().parse_tweet(text).weightedLength)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class LengthRule:
    """How one network measures a post and the most it takes."""

    unit: str
    limit: int | None
    count: Callable[[str], int]
    max_bytes: int | None = None

    def measure(self, text: str) -> int:
        return self.count(text)

    def problems(self, text: str, length: int | None = None) -> list[str]:
        """Messages for every way `text` is over this rule's limits."""
        found = []
        length = self.measure(text) if length is None else length
        if self.limit is not None and length > self.limit:
            found.append(f"text is {length} {self.unit}, over the limit of {self.limit}")
        if self.max_bytes is not None and (size := utf8_bytes(text)) > self.max_bytes:
            found.append(f"text is {size} UTF-8 bytes, over the limit of {self.max_bytes}")
        return found


def _limit(settings: Mapping[str, Any], default: int) -> int:
    value = settings.get("max_characters", default)
    return value if isinstance(value, int) and value > 0 else default


def rule_for(channel_type: str, settings: Mapping[str, Any] | None = None) -> LengthRule | None:
    """The length rule of a channel type (settings may raise Mastodon's limit); None if unknown."""
    settings = settings or {}
    rules: dict[str, Callable[[], LengthRule]] = {
        "mastodon": lambda: LengthRule("characters", _limit(settings, 500), mastodon_length),
        "bluesky": lambda: LengthRule("graphemes", 300, graphemes, max_bytes=3000),
        "x": lambda: LengthRule("weighted characters", 280, x_weighted_length),
        "linkedin": lambda: LengthRule("characters", 3000, graphemes),
        "facebook": lambda: LengthRule("characters", 63206, graphemes),
        "telegram": lambda: LengthRule("UTF-16 units", 4096, utf16_units),
        "webhook": lambda: LengthRule("characters", None, graphemes),
        "dryrun": lambda: LengthRule("characters", _limit(settings, 0) or None, graphemes),
    }
    make = rules.get(channel_type)
    return make() if make else None
