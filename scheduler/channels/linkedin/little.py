"""A post's text in LinkedIn's "little" text format, the format of a post's `commentary`.

little gives meaning to `| { } @ [ ] ( ) < > # * _ ~ \\` (mentions, hashtags, templates). LinkedIn
answers 201 to a commentary with one of them unescaped and then cuts the post at it: "Bel (gratis)
0800" is published as "Bel ". So every reserved character is escaped with a backslash, and hashtags
are written as little's HashtagTemplate, `{hashtag|\\#|tag}`, which is also how LinkedIn gives a
post's hashtags back when it is read.

A hashtag here is `#` followed by letters and digits, not straight after a letter, digit or `&`
(`C#`, `&#38;` and `nr.#3` stay text). Whatever follows the letters and digits (an underscore, a dot)
is text again, escaped.

The length LinkedIn counts (3,000 characters) is that of the commentary as sent, so `length` counts
the escaped text.
"""

from __future__ import annotations

import re

RESERVED = frozenset("|{}@[]()<>#*_~\\")
_HASHTAG = re.compile(r"(?<![\w&])#([^\W_]+)")
_TEMPLATE = re.compile(r"\{hashtag\|\\#\|([^{}|]*)\}")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def escape(text: str) -> str:
    """Plain `text` as little: each reserved character escaped, each hashtag a HashtagTemplate."""
    out: list[str] = []
    at = 0
    for match in _HASHTAG.finditer(text):
        out.append(_escape_plain(text[at : match.start()]))
        out.append("{hashtag|\\#|" + match.group(1) + "}")
        at = match.end()
    out.append(_escape_plain(text[at:]))
    return "".join(out)


def _escape_plain(text: str) -> str:
    return "".join("\\" + char if char in RESERVED else char for char in text)


def plain(little: str) -> str:
    """The text a person reads from a little commentary (what `escape` was given, for our own posts)."""
    text = _TEMPLATE.sub(lambda match: "\x00" + match.group(1), little)
    text = _ESCAPED.sub(lambda match: match.group(1), text)
    return text.replace("\x00", "#")


def length(text: str) -> int:
    """Characters of `text` as LinkedIn counts them: those of its escaped commentary."""
    return len(escape(text))
