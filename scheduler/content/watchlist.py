"""The watch list: words and phrases in a reply that a person must see at once (watchlist.yml).

    # watchlist.yml in the campaign root
    phrases:
      - help
      - ik word*          # a trailing * also matches longer words: ik word geslagen
      - thuis slaat
    helplines: Veilig Thuis 0800-2000, De Kindertelefoon 0800-0432

A phrase matches whole words, whatever their case, accents or the spaces between them. A file of
its own, not a key of channels.yml: the people who keep it (the care team) are not those who keep
the accounts, and it holds no secrets.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from scheduler.content.files import read_yaml_mapping
from scheduler.content.problems import Problem, did_you_mean, error, warning
from scheduler.words import N_, Said

FILE = "watchlist.yml"


class WatchList:
    """The phrases to watch for, and the helplines an alert reminds of."""

    def __init__(self, phrases: tuple[str, ...] = (), helplines: str = "") -> None:
        self.phrases = tuple(p for p in phrases if p.strip())
        self.helplines = helplines
        self._patterns = tuple((p, _pattern(p)) for p in self.phrases)

    def match(self, text: str) -> str | None:
        """The first phrase that `text` contains, or None."""
        plain = _fold(text)
        for phrase, pattern in self._patterns:
            if pattern.search(plain):
                return phrase
        return None


def load(root: Path) -> tuple[WatchList | None, list[Problem]]:
    """The campaign's watch list (empty when it has no watchlist.yml), or None when it is broken;
    its problems, on their lines. Read with the guards of every settings file (content/files.py)."""
    data, problems = read_yaml_mapping(
        root, FILE, Said.of(N_("expected a mapping with phrases (a list) and helplines"))
    )
    for key in data:
        if key not in ("phrases", "helplines"):
            hint = did_you_mean(str(key), ("phrases", "helplines")) or Said.of(N_("; it takes phrases and helplines"))
            problems.append(
                error(FILE, data.line_of(key), Said.of(N_("unknown key {key}{hint}"), key=repr(key), hint=hint))
            )
    phrases = data.get("phrases") or []
    if not isinstance(phrases, list) or not all(isinstance(p, str | int) for p in phrases):
        problems.append(
            error(FILE, data.line_of("phrases"), Said.of(N_("`phrases` must be a list of words and phrases")))
        )
        phrases = []
    helplines = data.get("helplines") or ""
    if not isinstance(helplines, str):
        problems.append(error(FILE, data.line_of("helplines"), Said.of(N_("`helplines` must be text"))))
    if any(p.is_error for p in problems):
        return None, problems
    return WatchList(tuple(str(p).strip() for p in phrases if str(p).strip()), helplines.strip()), problems


def unguarded(root: Path, found: WatchList | None) -> Problem | None:
    """The one warning for a campaign whose replies are read while no phrase can raise an alert:
    watchlist.yml is missing or lists no phrases (a broken one is an error of its own)."""
    if found is None or found.phrases:
        return None
    missing = not (root / FILE).exists()
    if missing:
        message = N_(
            "there is no watch list: replies to the posts are read and kept, but none raises an alert, so a child "
            "who answers asking for help waits until someone reads them all; write {file} with `phrases:` and "
            "`helplines:` (see docs/writing-posts.md)"
        )
    else:
        message = N_(
            "the watch list has no phrases: replies to the posts are read and kept, but none raises an alert, so a "
            "child who answers asking for help waits until someone reads them all; fill in {file} with `phrases:` "
            "and `helplines:` (see docs/writing-posts.md)"
        )
    return warning(FILE, 0, Said.of(message, file=FILE))


def _fold(text: str) -> str:
    """Lower case without accents, so 'Héélp' and 'heelp' read alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _pattern(phrase: str) -> re.Pattern[str]:
    prefix = phrase.rstrip().endswith("*")
    words = _fold(phrase.rstrip().rstrip("*")).split()
    body = r"\s+".join(re.escape(word) for word in words)
    return re.compile(r"(?<!\w)" + body + (r"\w*" if prefix else r"(?!\w)"))
