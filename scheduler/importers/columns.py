"""The columns of a sheet of posts, with the names people give them in English and Dutch.

A header is matched without regard to case, spaces, dashes, underscores and a trailing `(s)`:
`Kanaal`, `kanalen`, `Channel(s)` and `channels` are all the channels column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DATE, TIME, CHANNELS, TEXT = "date", "time", "channels", "text"
TITLE, HASHTAGS, IMAGE, ALT, ID, DRAFT = "title", "hashtags", "image", "alt", "id", "draft"
VERSION = "version"  # what the post said when exported (scheduler.importers.exported): not part of the post
NO_TAGS = "-"  # in the hashtags column: this post gets no tags at all, not even the default
REQUIRED = (DATE, CHANNELS, TEXT)  # a time may be written in the date column
ORDER = (DATE, TIME, CHANNELS, TEXT, TITLE, HASHTAGS, IMAGE, ALT, ID, DRAFT, VERSION)

_ALIASES: Mapping[str, tuple[str, ...]] = {
    DATE: ("date", "day", "datum", "dag", "publishdate", "publicatiedatum"),
    TIME: ("time", "hour", "tijd", "tijdstip", "uur", "publishtime"),
    CHANNELS: ("channels", "channel", "network", "networks", "kanalen", "kanaal", "netwerk", "netwerken"),
    TEXT: ("text", "body", "message", "post", "content", "tekst", "bericht", "inhoud"),
    TITLE: ("title", "subject", "titel", "onderwerp"),
    HASHTAGS: ("hashtags", "hashtag", "tags", "tag"),
    IMAGE: ("image", "images", "media", "picture", "photo", "afbeelding", "afbeeldingen", "beeld", "foto"),
    ALT: ("alt", "alttext", "alternativetext", "imagedescription", "alttekst", "beschrijving", "beeldbeschrijving"),
    ID: ("id", "postid"),
    DRAFT: ("draft", "concept"),
    VERSION: ("version", "versie"),
}
_BY_ALIAS = {alias: column for column, aliases in _ALIASES.items() for alias in aliases}
# The headers `campaign export --format csv` writes, in the campaign's language (English otherwise).
HEADERS: Mapping[str, Mapping[str, str]] = {
    "en": {c: c for c in ORDER},
    "nl": {
        DATE: "datum",
        TIME: "tijd",
        CHANNELS: "kanalen",
        TEXT: "tekst",
        TITLE: "titel",
        HASHTAGS: "hashtags",
        IMAGE: "afbeelding",
        ALT: "alt",
        ID: "id",
        DRAFT: "concept",
        VERSION: "versie",
    },
}


def _key(header: str) -> str:
    return re.sub(r"[\s_\-.:]", "", header.strip().casefold().replace("(s)", ""))


def column_of(header: str) -> str | None:
    """The column a header names, or None."""
    return _BY_ALIAS.get(_key(header))


@dataclass(frozen=True)
class Header:
    """Which cell of a row holds which column, as the sheet names it."""

    index: Mapping[str, int]  # column → position in the row
    names: Mapping[str, str]  # column → the header as written
    ignored: tuple[str, ...]  # headers that name no column

    def letter(self, column: str) -> str:
        """The spreadsheet letter of a column (A, B, ..., AA)."""
        return letter(self.index[column])


def letter(position: int) -> str:
    """The spreadsheet letter of the column at `position` in a row (0: A, 26: AA)."""
    number, letters = position + 1, ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


class HeaderError(ValueError):
    """The header row lacks a column that every post needs, or names one twice."""


def read_header(cells: Sequence[object]) -> Header:
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    ignored = []
    for position, cell in enumerate(cells):
        written = "" if cell is None else str(cell).strip()
        if not written:
            continue
        column = column_of(written)
        if column is None:
            ignored.append(written)
            continue
        if column in index:
            raise HeaderError(f"the columns {names[column]!r} and {written!r} both mean {column}; keep one")
        index[column], names[column] = position, written
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        dutch = HEADERS["nl"]
        wanted = ", ".join(f"{c} ({dutch[c]})" for c in missing)
        raise HeaderError(
            f"the header row needs a column for {wanted}; it has {', '.join(map(repr, names.values())) or 'none'}"
            + (f" and {', '.join(map(repr, ignored))} (not known)" if ignored else "")
        )
    return Header(index, names, tuple(ignored))


def recognised(cells: Sequence[object]) -> int:
    """How many known columns a row would name as a header (to tell a header from a guess)."""
    return len({column_of(str(c)) for c in cells if c is not None and column_of(str(c))})
