"""A text too long for one post, split into the parts of a thread (`thread: true`).

Parts end at paragraph boundaries where one fits, else at the end of a sentence, else between
words: never inside a word, so never inside a URL or a hashtag. Each part ends in its number
(" 2/5"), counted in its length, and each is within the channel's LengthRule as that network
counts it. What goes only on the first part (the hashtag line) is given as `first_suffix`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scheduler.posts import LengthRule
from scheduler.words import N_, Said

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’»)\]]*$")
PARAGRAPH, LINE, SENTENCE, WORD = 3, 2, 1, 0  # how good a place to end a part is, best first


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    ends: int  # how good a place the end of this word is to end a part (PARAGRAPH ... WORD)


def number(index: int, total: int) -> str:
    """What ends part `index` (from 1) of `total`."""
    return f" {index}/{total}"


def split(text: str, rule: LengthRule, first_suffix: str = "") -> tuple[str, ...] | None:
    """The parts of `text`, each within `rule` with its number; `first_suffix` goes on the first
    before its number. None if some word (with the number) is longer than the limit on its own."""
    words = _words(text)
    if not words:
        return None
    digits = 1
    while True:
        widest = " " + "9" * digits + "/" + "9" * digits  # reserve room for the widest number
        spans = _pack(text, words, rule, first_suffix, widest)
        if spans is None:
            return None
        if len(str(len(spans))) <= digits:
            total = len(spans)
            return tuple(
                text[start:end] + (first_suffix if index == 1 else "") + number(index, total)
                for index, (start, end) in enumerate(spans, 1)
            )
        digits += 1


def _words(text: str) -> list[_Word]:
    found = list(_WORD.finditer(text))
    words = []
    for index, match in enumerate(found):
        if index + 1 == len(found):
            ends = PARAGRAPH
        else:
            gap = text[match.end() : found[index + 1].start()]
            newlines = gap.count("\n")
            if newlines >= 2:
                ends = PARAGRAPH
            elif newlines == 1:
                ends = LINE
            elif _SENTENCE_END.search(match.group()):
                ends = SENTENCE
            else:
                ends = WORD
        words.append(_Word(match.start(), match.end(), ends))
    return words


def _fits(rule: LengthRule, text: str) -> bool:
    return not rule.problems(text)


def _pack(text: str, words: list[_Word], rule: LengthRule, first: str, widest: str) -> list[tuple[int, int]] | None:
    """(start, end) in `text` of each part: from its first word, as far as fits, ending at the best
    kind of boundary among those that fit."""
    spans: list[tuple[int, int]] = []
    begin = 0
    while begin < len(words):
        suffix = (first if not spans else "") + widest
        best: dict[int, int] = {}  # kind of boundary → the last word index ending a part there
        for last in range(begin, len(words)):
            if not _fits(rule, text[words[begin].start : words[last].end] + suffix):
                break
            for kind in range(words[last].ends + 1):
                best[kind] = last  # a paragraph end is also a fine sentence end, and so on
        if not best:
            return None
        end = best[max(best)]
        spans.append((words[begin].start, words[end].end))
        begin = end + 1
    return spans


def whole_post_fix(channel: str, threaded: bool, replies: bool) -> Said:
    """How to fix a text too long for `channel` (the whole post is held: none of its channels gets it)."""
    if threaded:  # a thread already, and still a part does not fit
        fix = N_("shorten that word, or write an `overrides:` text for {name}")
    elif replies:
        fix = N_("shorten it, set `thread: true`, or write an `overrides:` text for {name}")
    else:
        fix = N_("shorten it, or write an `overrides:` text for {name}")
    return Said.of(fix, name=channel)
