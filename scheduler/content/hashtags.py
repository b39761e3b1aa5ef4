"""hashtags.yml: named sets of tags, the default, per-channel limits, and where tags go in a post.

    sets:                       # name → tags, written with or without '#'
      week: ["#ikmaakhetverschil", WeekTegenKindermishandeling]
    default: [week]             # sets or '#tags' added to every post unless it says `hashtags: []`
    limits: {bluesky: 3}        # channel name or type → most tags a post may carry there
    lowercase_ok: [ikmaakhetverschil]   # official tags exempt from the CamelCase hint

In `default:` and a post's `hashtags:`, a bare word is a set name and a tag is written with '#'
(`#week` is always the tag): a misspelt set name is an error, never published as a tag. A post's
`hashtags:` adds to the default; `hashtags: []` drops it. While hashtags.yml has an error, no post
that uses it is planned (`broken`): sets must never be guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from scheduler.content import yamlfile
from scheduler.content.files import read_yaml_mapping
from scheduler.content.problems import Problem, did_you_mean, error, warning
from scheduler.words import N_, Said

FILE = "hashtags.yml"
_TAG = regex.compile(r"^#?([\p{L}\p{M}\p{N}_]+)$")
_IN_TEXT = regex.compile(r"(?<![\p{L}\p{M}\p{N}_&#/])#([\p{L}\p{M}\p{N}_]+)")
_HINT_MIN_LETTERS = 12  # long all-lowercase tags are very likely several words run together
_KEYS = ("sets", "default", "limits", "lowercase_ok")


@dataclass(frozen=True)
class Hashtags:
    """The campaign's hashtag configuration, validated."""

    sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default: tuple[str, ...] = ()
    limits: Mapping[str, int] = field(default_factory=dict)
    lowercase_ok: frozenset[str] = frozenset()
    broken: Problem | None = None  # the first error in hashtags.yml, if it has one

    def refs_for(self, refs: tuple[str, ...] | None) -> tuple[str, ...]:
        """A post's references with the default added: None (not set) is the default alone, () is none."""
        if refs is None:
            return self.default
        return (*self.default, *refs) if refs else ()

    def expand(self, refs: Iterable[str]) -> list[str]:
        """Tags (with '#') for checked references (set names, '#tags'), in order, without repeats."""
        tags: list[str] = []
        for ref in refs:
            for tag in (ref,) if ref.startswith("#") else self.sets.get(ref, ()):
                if tag.casefold() not in {t.casefold() for t in tags}:
                    tags.append(tag)
        return tags

    def check(self, ref: str) -> Said | None:
        """What is wrong with one reference in `default:` or a post's `hashtags:`, or None."""
        if ref.startswith("#"):
            return None if is_valid(ref) else Said.of(_NOT_A_HASHTAG, tag=repr(ref))
        if ref in self.sets or self.broken is not None:  # a broken file: the post is held, naming it
            return None
        hint = did_you_mean(ref, self.sets)
        literal: Said | str = ""
        if is_valid("#" + ref):
            literal = Said.of(N_(" (a tag itself is written with '#': {tag})"), tag=repr("#" + ref))
        return Said.of(
            N_("{ref} is not a set in {file}{hint}{literal}"), ref=repr(ref), file=FILE, hint=hint, literal=literal
        )

    def limit_for(self, channel_name: str, channel_type: str) -> int | None:
        return self.limits.get(channel_name, self.limits.get(channel_type))

    def needs_case_hint(self, tag: str) -> bool:
        word = tag.lstrip("#")
        return (
            word.islower()
            and word.isalpha()
            and len(word) >= _HINT_MIN_LETTERS
            and (word.casefold() not in self.lowercase_ok)
        )


_NOT_A_HASHTAG = N_("{tag} is not a valid hashtag")


def normalize(tag: str) -> str:
    return "#" + tag.strip().lstrip("#")


def is_valid(tag: str) -> bool:
    word = tag.strip()
    return bool(_TAG.match(word)) and not word.lstrip("#").isdigit()


def tags_in(text: str) -> list[str]:
    """The hashtags written in `text` (with '#')."""
    return ["#" + m.group(1) for m in _IN_TEXT.finditer(text)]


def case_hint(tag: str) -> Said:
    return Said.of(
        N_(
            "{tag} is all lower case: capitalise each word (#LikeThis) so screen readers "
            "read it as words, or list it under lowercase_ok in {file}"
        ),
        tag=tag,
        file=FILE,
    )


def load(root: Path) -> tuple[Hashtags, list[Problem]]:
    """Read hashtags.yml from the campaign root (missing is fine: no hashtags)."""
    data, problems = read_yaml_mapping(root, FILE, Said.of(N_("expected a mapping with sets, default, limits")))
    hashtags = Hashtags() if problems or not data else None
    if hashtags is None:
        hashtags, problems = _parse(data)
    broken = next((p for p in problems if p.is_error), None)
    return (Hashtags(broken=broken) if broken else hashtags), problems


def _parse(data: yamlfile.LineDict) -> tuple[Hashtags, list[Problem]]:
    problems: list[Problem] = []
    for key in data:
        if key not in _KEYS:
            problems.append(
                error(
                    FILE,
                    data.line_of(key),
                    Said.of(N_("unknown key {key}; expected one of {keys}"), key=repr(key), keys=", ".join(_KEYS)),
                )
            )

    lowercase_ok = frozenset(str(tag).lstrip("#").casefold() for tag in _string_list(data, "lowercase_ok", problems))
    sets: dict[str, tuple[str, ...]] = {}
    raw_sets = data.get("sets") or {}
    if not isinstance(raw_sets, Mapping):
        problems.append(error(FILE, data.line_of("sets"), Said.of(N_("sets must map a name to a list of tags"))))
        raw_sets = {}
    for name, tags in raw_sets.items():
        line = raw_sets.line_of(name) if isinstance(raw_sets, yamlfile.LineDict) else 0
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.append(error(FILE, line, Said.of(N_("set {name} must be a list of tags"), name=repr(name))))
            continue
        clean = []
        for index, tag in enumerate(tags):
            tag_line = tags.line_of(index) if isinstance(tags, yamlfile.LineList) else line
            if not is_valid(tag):
                problems.append(error(FILE, tag_line, Said.of(_NOT_A_HASHTAG, tag=repr(tag))))
                continue
            clean.append(normalize(tag))
            if Hashtags(lowercase_ok=lowercase_ok).needs_case_hint(tag):
                problems.append(warning(FILE, tag_line, case_hint(normalize(tag))))
        sets[str(name)] = tuple(clean)

    default = []
    known = Hashtags(sets)
    for ref in _string_list(data, "default", problems):
        problem = known.check(ref)
        if problem:
            problems.append(error(FILE, data.line_of("default"), problem))
        else:
            default.append(ref)

    limits: dict[str, int] = {}
    raw_limits = data.get("limits") or {}
    if not isinstance(raw_limits, Mapping):
        problems.append(error(FILE, data.line_of("limits"), Said.of(N_("limits must map a channel to a number"))))
        raw_limits = {}
    for channel, value in raw_limits.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(
                error(
                    FILE,
                    data.line_of("limits"),
                    Said.of(N_("limit for {channel} must be a whole number ≥ 0"), channel=repr(channel)),
                )
            )
        else:
            limits[str(channel)] = value
    return Hashtags(sets, tuple(default), limits, lowercase_ok), problems


def _string_list(data: yamlfile.LineDict, key: str, problems: list[Problem]) -> list[str]:
    value: Any = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(error(FILE, data.line_of(key), Said.of(N_("{key} must be a list of names or tags"), key=key)))
        return []
    return list(value)
