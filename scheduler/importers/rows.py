"""Rows of a sheet → posts (front matter and text), checked against the campaign; a row with a
problem is reported by its number and column with what to fix, and the other rows still go in.

What a row becomes: `publish_at` (date and time, in the campaign's zone), `channels` (names from
channels.yml), the text as the post's body (a template, as in any post: `{{ vars.helpline }}` works),
and where given `title`, `hashtags` (set names from hashtags.yml, or tags written with '#'; `-` for
no tags at all), `media` (image paths relative to the campaign root, one per line, each with its alt
text on the same line of the alt cell), `id` and `draft`.

A link (a `HYPERLINK` formula, or a link put on a cell) keeps its address: `Veilig Thuis
(https://www.veiligthuis.nl)`. Any other formula gives the value the sheet showed, with a warning on
its cell, or is refused when the file holds no value for it. A row that says exactly what an earlier
row says is "a copy of row N" and not imported: it would be the same post twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from pathlib import PurePosixPath
from typing import Any

from jinja2 import Environment, TemplateSyntaxError

from scheduler.content.campaign import Campaign
from scheduler.content.drafts import is_post_id
from scheduler.content.problems import did_you_mean
from scheduler.content.schedule import ScheduleError
from scheduler.content.schedule import publish_at as check_publish_at
from scheduler.importers import cells
from scheduler.importers.columns import (
    ALT,
    CHANNELS,
    DATE,
    DRAFT,
    HASHTAGS,
    ID,
    IMAGE,
    NO_TAGS,
    ORDER,
    TEXT,
    TIME,
    TITLE,
    Header,
)
from scheduler.importers.sheet import Formula, Linked, Row, Sheet

_SYNTAX = Environment()  # only to parse: a text's template errors are found before it is written


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str | None  # as the sheet names it, with its letter: "kanalen (C)"
    message: str
    warning: bool = False  # the row is imported all the same

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {'warning: ' if self.warning else ''}{self.message}"


@dataclass(frozen=True)
class ImportedPost:
    """One row as a post: its front matter (in the order written) and its text."""

    row: int
    day: date
    front: dict[str, Any]
    text: str
    title: str | None = None


def read_rows(sheet: Sheet, campaign: Campaign) -> tuple[list[ImportedPost], list[RowProblem]]:
    """Every row that makes a post, and every problem of the rows that do not."""
    posts, problems = [], []
    seen: dict[str, int] = {}
    copies: dict[str, int] = {}  # a post as read (front matter and text) → the first row that says it
    for row in sheet.rows:
        reader = _RowReader(sheet, row, campaign)
        post = reader.post()
        if post is not None and (first := copies.setdefault(_said(post), row.number)) != row.number:
            # Written twice it would go out twice (or be held as a repeat): never a second file.
            reader.fail(
                None, f"a copy of row {first}; not imported: delete this row, or change it to make another post"
            )
            post = None
        if post is not None and (given := post.front.get("id")) is not None:
            if given in seen:
                reader.fail(ID, f"row {seen[given]} has the same id {given!r}; an id is one post")
                post = None
            else:
                seen[given] = row.number
        problems += reader.problems
        if post is not None and not any(not p.warning for p in reader.problems):
            posts.append(post)
    return posts, problems


def exported_post(cells: Sequence[str], campaign: Campaign) -> ImportedPost | None:
    """The post a row of `campaign export` says (scheduler.importers.exported.cells), read as a row of
    a sheet is: what an imported row is compared with. None if the row would not import."""
    names = {column: column for column in ORDER}
    sheet = Sheet(Header({c: i for i, c in enumerate(ORDER)}, names, ()), 1, (), "the export")
    reader = _RowReader(sheet, Row(2, tuple(cells)), campaign)
    post = reader.post()
    return None if reader.problems else post


def _said(post: ImportedPost) -> str:
    """What a row's post says, for telling a copied row: its front matter and text, as read."""
    return repr((sorted(post.front.items()), post.text))


def problem(sheet: Sheet, row: int, column: str | None, message: str, *, warning: bool = False) -> RowProblem:
    """A problem of `row`, its column named as the sheet names it, with its letter: "kanalen (C)"."""
    header = sheet.header
    shown = column
    if column is not None and column in header.index:
        shown = f"{header.names[column]} ({header.letter(column)})"
    return RowProblem(row, shown, message, warning)


def _linked(address: str, text: str) -> str:
    """A link as a post says it: networks show an address, never a word that hides one."""
    return address if not text or text == address or address in text else f"{text} ({address})"


def hyperlink(formula: str) -> tuple[str, str] | None:
    """`=HYPERLINK("https://…","Veilig Thuis")` (Excel's and LibreOffice's name in every language,
    `,` or `;` between the two) → (address, text); None for any other formula."""
    found = _HYPERLINK.match(formula)
    if found is None:
        return None
    address, text = (part.replace('""', '"').strip() if part else "" for part in found.groups())
    return (address, text) if address else None


_HYPERLINK = re.compile(
    r'^=\s*HYPERLINK\s*\(\s*"((?:[^"]|"")*)"\s*(?:[,;]\s*"((?:[^"]|"")*)"\s*)?\)\s*$', re.IGNORECASE
)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number cell: 12, not 12.0
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _one_line(text: str) -> str:
    """Words joined by single spaces: a title or alt text is one line (YAML would fold a stray line
    break such as U+0085 into a space anyway, so the file would not say what the cell did)."""
    return " ".join(text.split())


class _RowReader:
    def __init__(self, sheet: Sheet, row: Row, campaign: Campaign) -> None:
        self.sheet, self.row, self.campaign = sheet, row, campaign
        self.problems: list[RowProblem] = []
        self.nul: set[str] = set()
        self.refused: set[str] = set()  # columns whose formula was refused: said once, not again as "empty"

    def cell(self, column: str) -> object:
        position = self.sheet.header.index.get(column)
        if position is None or position >= len(self.row.cells):
            return None
        value = self.row.cells[position]
        if isinstance(value, Formula):
            value = self.formula(column, value)
        elif isinstance(value, Linked):  # a link put on the cell (Ctrl+K): its address is kept too
            value = _linked(value.address, _text(value.value))
        if isinstance(value, str) and "\x00" in value:
            if column not in self.nul:  # a post file cannot hold it, and no network takes it
                self.nul.add(column)
                self.fail(column, "has a NUL character (a broken export?); remove it")
            value = value.replace("\x00", "")
        return None if isinstance(value, str) and not value.strip() else value

    def fail(self, column: str | None, message: str) -> None:
        if column in self.refused:
            return
        self.problems.append(problem(self.sheet, self.row.number, column, message))

    def warn(self, column: str | None, message: str) -> None:
        self.problems.append(problem(self.sheet, self.row.number, column, message, warning=True))

    def formula(self, column: str, formula: Formula) -> object:
        """A formula's cell: a link keeps its address and text; any other formula gives the value
        the sheet showed, with a warning, or is refused when the file holds no value for it."""
        written = formula.written if len(formula.written) <= 60 else formula.written[:57] + "..."
        link = hyperlink(formula.written)
        if link is not None:
            return _linked(*link)
        instead = "write the text itself in the cell (copy it, then paste it as values only)"
        if formula.written.lstrip("= ").casefold().startswith("hyperlink"):
            self.fail(column, f"{written!r} is a link whose address or text is not written out; {instead}")
            self.refused.add(column)
            return None
        if formula.in_csv or formula.value is None or formula.value == "":
            where = (
                "a CSV file holds a formula's text, never its value"
                if formula.in_csv
                else ("the file holds no value for it (it was saved by a program that does not calculate)")
            )
            self.fail(
                column,
                f"{written!r} is a formula, and {where}; {instead}, or to start a text with =, write '= before it",
            )
            self.refused.add(column)
            return None
        self.warn(
            column,
            f"{written!r} is a formula: its value {_text(formula.value)!r} is imported, as the sheet "
            f"showed it; {instead} to be sure",
        )
        return formula.value

    def post(self) -> ImportedPost | None:
        when = self.when()
        channels = self.channels()
        text = self.body()
        title = _one_line(_text(self.cell(TITLE))) or None
        front: dict[str, Any] = {}
        given_id = self.post_id()
        if given_id:
            front["id"] = given_id
        if title:
            front["title"] = title
        if when is not None:
            front["publish_at"] = when[1]
        front["channels"] = channels
        tags = self.hashtags()
        if tags is not None:
            front["hashtags"] = tags
        media = self.media()
        if media:
            front["media"] = media
        if self.draft():
            front["draft"] = True
        if any(not p.warning for p in self.problems) or when is None:
            return None
        return ImportedPost(self.row.number, when[0], front, text, title)

    def when(self) -> tuple[date, str] | None:
        day_cell = self.cell(DATE)
        if day_cell is None:
            self.fail(DATE, "the date is empty; write it as 15-11-2027 or 2027-11-15")
            return None
        try:
            day, moment = cells.read_date(day_cell)
        except cells.CellError as exc:
            self.fail(DATE, str(exc))
            return None
        time_cell = self.cell(TIME)
        if time_cell is not None:
            try:
                moment = cells.read_time(time_cell)
            except cells.CellError as exc:
                self.fail(TIME, str(exc))
                return None
        if moment is None:
            where = TIME if TIME in self.sheet.header.index else DATE
            self.fail(where, "no time of day: write it as 09:00" + ("" if where == TIME else " after the date"))
            return None
        return day, self.checked(day, moment)

    def checked(self, day: date, moment: time) -> str:
        value = cells.publish_at(day, moment)
        try:
            check_publish_at(value, self.campaign.settings.timezone)
        except ScheduleError as exc:
            self.fail(TIME if TIME in self.sheet.header.index else DATE, str(exc))
        return value

    def channels(self) -> list[str]:
        names = [name.casefold() for name in cells.words(self.cell(CHANNELS), ",;|/\n ")]
        known = self.campaign.channels
        if not names:
            self.fail(
                CHANNELS, f"no channels; write one or more of {', '.join(sorted(known)) or 'none'} (channels.yml)"
            )
        for name in names:
            if name not in known:
                self.fail(
                    CHANNELS,
                    f"unknown channel {name!r}{did_you_mean(name, known)} "
                    f"(channels.yml has {', '.join(sorted(known)) or 'none'})",
                )
        return list(dict.fromkeys(names))

    def body(self) -> str:
        text = _text(self.cell(TEXT))
        if not text:
            self.fail(TEXT, "the text is empty; write what the post says")
            return text
        try:
            _SYNTAX.parse(text)
        except TemplateSyntaxError as exc:
            self.fail(
                TEXT,
                f"the text is read as a template (as every post is) and has an error in its line {exc.lineno}: "
                f"{exc.message}; to write {{{{ or {{% as text, write {{{{ '{{{{' }}}} or {{{{ '{{%' }}}}",
            )
        return text

    def hashtags(self) -> list[str] | None:
        cell = self.cell(HASHTAGS)
        if cell is None:
            return None
        refs = cells.words(cell, ",; \n")
        if refs == [NO_TAGS]:
            return []
        for ref in refs:
            problem = self.campaign.hashtags.check(ref)  # a set name, or a '#tag' itself
            if problem:
                self.fail(HASHTAGS, str(problem))
        return refs

    def media(self) -> list[dict[str, str]]:
        paths = cells.words(self.cell(IMAGE), "\n")
        alts = [_one_line(alt) for alt in cells.words(self.cell(ALT), "\n")]
        if len(alts) > len(paths):
            self.fail(ALT, "there is alt text without an image; put the image's path in the image column")
        items = []
        for index, path in enumerate(paths):
            problem = self.media_problem(path)
            if problem:
                self.fail(IMAGE, problem)
            if index >= len(alts):
                self.fail(ALT, f"{path}: the alt text is missing; describe the image for people who cannot see it")
                continue
            items.append({"path": path, "alt": alts[index]})
        return items

    def media_problem(self, written: str) -> str | None:
        relative = PurePosixPath(written.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts or re.match(r"^[A-Za-z]:", written):
            return f"{written!r}: give the path inside the campaign folder, such as media/photo.png"
        root = self.campaign.root.resolve()
        full = root.joinpath(*relative.parts)
        if not full.is_file():
            return f"{written}: there is no such file in the campaign folder; add it, or correct the path"
        if not full.resolve().is_relative_to(root):
            return f"{written!r} leads outside the campaign folder"
        return None

    def post_id(self) -> str | None:
        value = _text(self.cell(ID))
        if value and not is_post_id(value):
            self.fail(ID, f"{value!r} cannot be an id: use letters, digits, / _ . - (starting with a letter or digit)")
        return value or None

    def draft(self) -> bool:
        try:
            return cells.flag(self.cell(DRAFT))
        except cells.CellError as exc:
            self.fail(DRAFT, str(exc))
            return False
