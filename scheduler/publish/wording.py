"""The pieces of the publisher's words that depend on the campaign's language: a problem with its file and
line, a moment as people read it, a list of names. Alerts and hold reasons are made of these and of
marked messages (scheduler.words), so they are written in the campaign's language when they are made."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from babel.dates import format_datetime, format_timedelta

from scheduler.content.problems import Problem, human
from scheduler.words import N_, SOURCE, Said, base_language

_LINE_BREAKING = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")  # would end or garble a one-line reason


@dataclass(frozen=True)
class _Rendered(Said):
    render: Callable[[str], str] = field(default=str, compare=False)

    def said_in(self, language: str) -> str:
        return self.render(language)


def said_by(render: Callable[[str], str]) -> Said:
    """Words made by a function of the language (a date, a length of time, problems with their places), as a
    value of a marked message: English in the log, the campaign's language in the alert."""
    return _Rendered("", render=render)


def problem(found: Problem, language: str) -> str:
    """`found` with its file and line, in `language` (on one line); in English exactly as the CLI says it."""
    if base_language(language) == SOURCE:
        return str(found)
    place = f"{found.path}:{found.line}"
    if found.is_error:
        text = Said.of(N_("{place}: error: {message}"), place=place, message=found.said_in(language))
    else:
        text = Said.of(N_("{place}: warning: {message}"), place=place, message=found.said_in(language))
    said = text.said_in(language)
    return _LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], said) if _LINE_BREAKING.search(said) else said


def moment(when: datetime, zone: tzinfo, language: str) -> str:
    """`when` in the campaign's zone, as people read a date and time in `language` ("ma 15 mrt 2027 09:00 CET")."""
    locale = language.replace("-", "_")
    return str(format_datetime(when.astimezone(zone), "EEE d MMM y HH:mm zzz", locale=locale))


def names(items: Sequence[str], language: str) -> str:
    """ "a, b and c" in `language`."""
    if len(items) < 2:
        return "".join(items)
    return Said.of(N_("{names} and {last}"), names=", ".join(items[:-1]), last=items[-1]).said_in(language)


def duration(delta: timedelta, language: str) -> str:
    """'3 hours' in `language` (the largest whole unit, as the command line says it in English)."""
    if base_language(language) == SOURCE:
        return human(delta)
    seconds = int(delta.total_seconds())
    size = next((size for size in (86400, 3600, 60) if seconds >= size), 1)
    whole = timedelta(seconds=seconds // size * size)  # rounded down, as `human` does: never more than it was
    return str(format_timedelta(whole, threshold=1, locale=language.replace("-", "_")))
