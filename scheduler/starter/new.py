"""A new campaign from the template in `template/`: `base/` for every language, then the posts of
`nl/` or `en/` (other languages take the English texts, with their own dates and weekdays).

Placeholders `<<name>>` are filled with YAML scalars written by the YAML library (so a campaign
name with a colon or quotes stays one value); `<<name|text>>` with the plain text (the README).
File and folder names `dot-x` become `.x` (`.gitignore`, `.github/`), so the template ships as
ordinary package data. An existing file is never overwritten: it is kept, and reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError

from scheduler.content import yamlfile
from scheduler.content.placeholders import STARTER_HELPLINE
from scheduler.content.problems import did_you_mean

TEMPLATE = files(__package__) / "template"
TEXT_SUFFIXES = (".md", ".yml", ".yaml", ".txt")
_PLACEHOLDER = re.compile(r"<<([a-z_]+)(\|text)?>>")
_WORDS: Mapping[str, Mapping[str, str]] = {
    "nl": {
        "helpline": f"Hulplijn: {STARTER_HELPLINE} (gratis en anoniem)",
        "week_tag": "#DezeWeek",
        "stories_dir": "verhalen",
        "hashtag_file": "hashtagdag.md",
    },
    "en": {
        "helpline": f"Helpline: {STARTER_HELPLINE} (free and anonymous)",
        "week_tag": "#ThisWeek",
        "stories_dir": "stories",
        "hashtag_file": "hashtag-day.md",
    },
}


class StarterError(ValueError):
    """An option `campaign new` cannot use; the message says what to give instead."""


@dataclass(frozen=True)
class Options:
    name: str
    timezone: str
    language: str
    week: date  # the first day of the campaign week


@dataclass(frozen=True)
class Result:
    written: tuple[str, ...]  # relative to the target, in the order written
    kept: tuple[str, ...]  # files that were already there, untouched


def check(options: Options) -> None:
    """StarterError for a time zone, language or name the campaign could not use."""
    if not options.name.strip():
        raise StarterError("the campaign needs a name (--name)")
    if not 2000 <= options.week.year <= 9000:  # its year of stories must fit the calendar too
        raise StarterError(f"--week {options.week.isoformat()} is too far off; give the week the campaign runs")
    try:
        ZoneInfo(options.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(options.timezone, available_timezones(), 0.8)
        raise StarterError(
            f"unknown time zone {options.timezone!r}{hint} (an IANA name such as Europe/Amsterdam)"
        ) from None
    try:
        Locale.parse(options.language)
    except (UnknownLocaleError, ValueError):
        raise StarterError(f"unknown language {options.language!r} (use a code such as nl or en)") from None


def create(target: Path, options: Options) -> Result:
    """Write the template campaign into `target` (made if missing), never over an existing file.
    A folder that holds a campaign already (posts/ or channels.yml) is refused: examples mixed into
    real posts would be published with them."""
    check(options)
    there = [name for name in ("posts", "channels.yml") if (target / name).exists()]
    if there:
        raise StarterError(
            f"{target} has a campaign already ({' and '.join(there)}); start a new one in a new folder "
            "(or one without posts/ and channels.yml)"
        )
    values = _values(options)
    written, kept = [], []
    for relative, source in _sources(options.language):
        path = target / relative
        content = source.read_bytes()
        if relative.suffix in TEXT_SUFFIXES or relative.name in (".gitignore",):
            content = _fill(content.decode("utf-8"), values).encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("xb") as out:  # "x": fails rather than overwrite, even in a race
                out.write(content)
        except FileExistsError:
            kept.append(relative.as_posix())
            continue
        written.append(relative.as_posix())
    return Result(tuple(written), tuple(kept))


def _sources(language: str) -> Iterator[tuple[PurePosixPath, Traversable]]:
    texts = language.split("_")[0].split("-")[0].lower()
    for part in ("base", texts if texts in _WORDS else "en"):
        yield from _walk(TEMPLATE / part, PurePosixPath())


def _walk(folder: Traversable, relative: PurePosixPath) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name == "__pycache__":
            continue
        name = "." + item.name[4:] if item.name.startswith("dot-") else item.name
        if item.is_dir():
            yield from _walk(item, relative / name)
        else:
            yield relative / name, item


def _values(options: Options) -> dict[str, str]:
    words = _WORDS.get(options.language.split("_")[0].split("-")[0].lower(), _WORDS["en"])
    week = options.week
    return {
        "campaign": options.name.strip(),
        "campaign_tag": campaign_tag(options.name),
        "timezone": options.timezone,
        "language": options.language,
        "week_start": f"{week.isoformat()} 09:00",
        "week_end": (week + timedelta(days=6)).isoformat(),
        "hashtag_day": f"{(week + timedelta(days=2)).isoformat()} 19:30",
        "stories_from": (week + timedelta(days=7)).isoformat(),
        "stories_to": (week + timedelta(days=7 + 357)).isoformat(),
        **words,
    }


def campaign_tag(name: str) -> str:
    """The campaign's own hashtag from its name: each word capitalised ("Week tegen X 2027" →
    "#WeekTegenX2027"), so screen readers read it as words."""
    words = re.findall(r"\w+", name)
    tag = "".join(w[:1].upper() + w[1:] for w in words).replace("_", "")
    return "#" + tag if tag and not tag.isdigit() else "#Campaign"


def _fill(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return value if match.group(2) else _scalar(value)

    return _PLACEHOLDER.sub(one, text)


def _scalar(value: str) -> str:
    """`value` as one YAML scalar on one line, quoted only where YAML needs it."""
    return yamlfile.dump(value).removesuffix("\n").removesuffix("\n...")
