"""Bluesky rich text and record keys, without the network.

Facets (app.bsky.richtext.facet) point into the post text by UTF-8 *byte* offsets, start
inclusive and end exclusive; Python indexes strings by code point, so every offset found here is
converted before it leaves this module. Links are found as `scheduler.content.text.urls` finds them (the
same rule the length counters use), hashtags and mentions as the Bluesky app detects them.

Record keys: posts use the `tid` key type, 13 characters of base32-sortable
(`234567abcdefghijklmnopqrstuvwxyz`) encoding a 64-bit integer whose top bit is 0, then 53 bits
of microseconds since the epoch, then a 10-bit clock id. `tid_for_key` derives one from the
publication key so that publishing the same key twice names the same record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex

from scheduler.content.text import graphemes, urls

S32 = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

# Derived keys carry a timestamp inside a fixed window in the past (2023-01-01 plus 2^46 µs,
# about 2.2 years), never in the future: software that reads a TID as "when" is not misled into
# the future, and 46 + 10 bits leave a collision chance of about n²/2^57 for n keys.
_EPOCH_US = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
_WINDOW_BITS = 46
_KEY_DOMAIN = b"campaign-scheduler/bluesky-rkey/1\x00"  # versioned: changing it renames every post

MAX_TAG_GRAPHEMES = 64

# A hashtag starts at the start of the text or after whitespace, with # or the full-width ＃,
# and runs to the next whitespace or zero-width character; trailing punctuation is not part of
# it, and a tag of only digits is not a tag (#1 is a number), as in the Bluesky app.
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(rf"(?:^|(?<=\s))[#＃](?!\ufe0f)([^\s{_INVISIBLE}]+)")
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
_HAS_NON_DIGIT = regex.compile(r"[^\d\p{P}]")
# A mention starts at the start, after whitespace or after "(", and is a domain-like handle.
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9.-]+)")
_HANDLE = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


@dataclass(frozen=True)
class Span:
    """One decorated stretch of the text, in UTF-8 bytes."""

    start: int
    end: int
    kind: str  # "link" | "tag" | "mention"
    value: str  # the URI, the tag without #, or the handle without @


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of code point `index` in `text`."""
    return len(text[:index].encode("utf-8"))


def find_spans(text: str) -> list[Span]:
    """Links, hashtags and mentions in `text`, in order, never overlapping."""
    # urls() only keeps http(s) links, so text without "http" has none; finding them is the slow part.
    links = urls(text) if "http" in text.lower() else []
    found: list[tuple[int, int, str, str]] = [(s, e, "link", url) for s, e, url in links]
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1))
        if not tag or not _HAS_NON_DIGIT.search(tag) or graphemes(tag) > MAX_TAG_GRAPHEMES:
            continue
        start = match.start()
        found.append((start, start + 1 + len(tag), "tag", tag))
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".-")
        if len(handle) > 253 or not _HANDLE.match(handle):
            continue
        start = match.start()
        found.append((start, start + 1 + len(handle), "mention", handle))
    found.sort()
    spans: list[Span] = []
    last_end = -1
    for start, end, kind, value in found:
        if start < last_end:  # a "#" or "@" inside a URL belongs to the URL
            continue
        spans.append(Span(byte_offset(text, start), byte_offset(text, end), kind, value))
        last_end = end
    return spans


def facets(text: str, resolve: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """The `facets` of a post record. `resolve(handle)` gives a DID, or None for no facet."""
    result: list[dict[str, Any]] = []
    for span in find_spans(text):
        feature: dict[str, Any]
        if span.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
        elif span.kind == "tag":
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
        else:
            did = resolve(span.value)
            if did is None:
                continue
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        result.append({"index": {"byteStart": span.start, "byteEnd": span.end}, "features": [feature]})
    return result


def tid_for_key(key: str) -> str:
    """A valid TID that depends only on `key`: the same key always names the same record."""
    digest = hashlib.sha256(_KEY_DOMAIN + key.encode("utf-8")).digest()
    number = int.from_bytes(digest[:8], "big")
    clock_id = number & 0x3FF
    micros = _EPOCH_US + ((number >> 10) & ((1 << _WINDOW_BITS) - 1))
    return encode_tid((micros << 10) | clock_id)


def encode_tid(value: int) -> str:
    """`value` (0 ≤ value < 2^63) as 13 base32-sortable characters."""
    if not 0 <= value < 1 << 63:
        raise ValueError("a TID is a 64-bit integer with its top bit 0")
    return "".join(S32[(value >> shift) & 31] for shift in range(60, -1, -5))


def is_tid(value: str) -> bool:
    return bool(TID_PATTERN.match(value))
