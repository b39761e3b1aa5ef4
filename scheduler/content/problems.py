"""Problems found in campaign files: values with a file, a line and a severity."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from scheduler.words import N_, Said

_LINE_BREAKING = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")  # would end or garble the one line


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a campaign file; `line` is 1-based (0 when it is the whole file)."""

    path: str
    line: int
    severity: Severity
    message: str
    # (path, line) of the settings error this one only follows from (a post "not checked" because
    # its _defaults.yml is broken): listings show those as one line after their cause.
    cause: tuple[str, int] | None = field(default=None, compare=False)
    # The message as its catalog id and values, where it has been marked for translation: people
    # pages show `said_in(language)`; the command line and logs show `message` (English).
    said: Said | None = field(default=None, compare=False)

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}: {self.severity.value}: {self.message}"
        return _LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], text) if _LINE_BREAKING.search(text) else text

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def said_in(self, language: str) -> str:
        """The message in `language`; English where it is not marked for translation yet."""
        return self.said.said_in(language) if self.said is not None else self.message


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 error`, `2 errors`; `many` for words that do not just take an s."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def human(delta: timedelta) -> str:
    """'3 hours', '1 minute', '12 seconds': the largest whole unit."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return plural(seconds // size, unit)
    return plural(seconds, "second")


def human_said(delta: timedelta) -> Said:
    """`human(delta)` kept for translation: '3 hours' in English, '3 uur' in Dutch."""
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return Said.ngettext("{n} day", "{n} days", n=seconds // 86400)
    if seconds >= 3600:
        return Said.ngettext("{n} hour", "{n} hours", n=seconds // 3600)
    if seconds >= 60:
        return Said.ngettext("{n} minute", "{n} minutes", n=seconds // 60)
    return Said.ngettext("{n} second", "{n} seconds", n=seconds)


def did_you_mean(word: str, known: Iterable[str], cutoff: float = 0.6) -> Said | str:
    """`; did you mean 'x'?` for the closest of `known` (kept for translation), or "" when none is close enough."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=cutoff)
    return Said.of(N_("; did you mean {word}?"), word=repr(close[0])) if close else ""


def error(path: str, line: int, message: str | Said) -> Problem:
    """An error; give `Said.of(N_("..."), ...)` so the people pages can show it in the campaign's language."""
    return _problem(path, line, Severity.ERROR, message)


def warning(path: str, line: int, message: str | Said) -> Problem:
    return _problem(path, line, Severity.WARNING, message)


def _problem(path: str, line: int, severity: Severity, message: str | Said) -> Problem:
    if isinstance(message, Said):
        return Problem(path, line, severity, str(message), said=message)
    return Problem(path, line, severity, message)


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Sorted by file, line, then errors before warnings, then text; duplicates removed."""
    return sorted(set(problems), key=lambda p: (p.path, p.line, p.severity != Severity.ERROR, p.message))


def causes_first(problems: Iterable[Problem]) -> list[Problem]:
    """`problems` (sorted) as a person should read them: every problem of a file that kept posts from
    being checked first, each such cause followed by one line counting those posts instead of a line
    per post (GitHub shows only the first 10 annotations of a step), then the rest."""
    problems = list(problems)
    following: dict[tuple[str, int], int] = {}
    for p in problems:
        if p.cause is not None:
            following[p.cause] = following.get(p.cause, 0) + 1
    if not following:
        return problems
    files = sorted({path for path, _ in following})
    first: list[Problem] = []
    for path in files:
        first += (p for p in problems if p.path == path and p.cause is None)
        for (cause, line), count in sorted(following.items()):
            if cause == path:
                message = Said.ngettext(
                    "{n} post not checked because {path} has an error (line {line}); fix it first",
                    "{n} posts not checked because {path} has an error (line {line}); fix it first",
                    n=count,
                    path=path,
                    line=line,
                )
                first.append(error(path, line, message))
    return [*first, *(p for p in problems if p.path not in files and p.cause is None)]
