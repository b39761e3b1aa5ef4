"""Length as each network counts it.

Mastodon counts grapheme clusters with every http(s) URL as 23 and a remote mention as its
local part; Bluesky counts graphemes and UTF-8 bytes; X weighs characters by twitter-text v3
(URLs 23, CJK and emoji 2); Telegram counts UTF-16 code units; Threads counts characters with each
emoji as its UTF-8 bytes.
"""

from __future__ import annotations

import unicodedata
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


#: What Threads counts as an emoji: a pictograph, a flag's regional indicators, or a keycap (1️⃣).
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]")


def threads_length(text: str) -> int:
    """Length as Threads counts it (Threads API, "Posts", Limitations: "Text posts are limited to 500
    characters. Emojis are counted as the number of UTF-8 bytes."): each user-perceived character
    (grapheme cluster, as the grapheme-splitter the documentation links to splits them) is 1, except an
    emoji, which is as many as its UTF-8 bytes, all of them (😀 4, ❤️ 6, 🇳🇱 8, 👨‍👩‍👧 18)."""
    if text.isascii():
        return len(text)
    return sum(len(cluster.encode("utf-8")) if _EMOJI.search(cluster) else 1 for cluster in _GRAPHEME.findall(text))
