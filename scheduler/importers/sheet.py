"""A spreadsheet file → its header and rows of cells, numbered as the spreadsheet numbers them.

CSV: the encoding is found from a byte-order mark, else UTF-8, else Windows-1252 (what Excel writes
on Dutch and English Windows); the delimiter by the csv module's Sniffer, checked against the header
(the candidate that makes the most known column names wins when the Sniffer is unsure or wrong).
.xlsx: the first sheet (or `sheet`), read by openpyxl with the values Excel shows (dates and times
as Excel stores them). Every error of either library is translated here, into SheetError.
A cell that `campaign export` kept from being a formula (`'=...`, `'-5 graden`) is read as the text it
was (scheduler.formulas).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scheduler import formulas
from scheduler.importers.columns import Header, HeaderError, read_header, recognised

DELIMITERS = ",;\t|"
_HEADER_SEARCH = 10  # rows looked at for the header
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


class SheetError(ValueError):
    """The file cannot be read as a sheet of posts; the message says why and what to do."""


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet shows it: the header is usually row 1
    cells: tuple[object, ...]  # str for CSV; str, int, float, datetime, date, time or None for .xlsx


@dataclass(frozen=True)
class Sheet:
    header: Header
    header_row: int
    rows: tuple[Row, ...]  # rows after the header that have anything in them
    described: str  # how it was read: "CSV, UTF-8, delimiter ';'" or "sheet 'Posts'"


def read(path: Path, *, sheet: str | None = None, encoding: str | None = None) -> Sheet:
    """The sheet in `path` (.csv, .tsv, .txt or .xlsx/.xlsm)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx(path, sheet)
    if suffix in (".xls", ".ods", ".numbers"):
        raise SheetError(f"{path.name}: {suffix} files cannot be read; save the sheet as .xlsx or as CSV")
    return _csv(path, encoding)


def _decode(data: bytes, given: str | None) -> tuple[str, str]:
    if given:
        try:
            return data.decode(given), given
        except LookupError:
            raise SheetError(f"unknown encoding {given!r}; try utf-8 or cp1252") from None
        except UnicodeDecodeError as exc:
            raise SheetError(f"the file is not {given}: byte {exc.start + 1} does not fit; try another") from None
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name), name
    for name in ("utf-8", "cp1252"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"  # every byte is a character: nothing is lost, at worst misshown


def _csv(path: Path, encoding: str | None) -> Sheet:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SheetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.startswith(b"PK\x03\x04"):
        raise SheetError(f"{path.name} is a workbook (zip), not CSV; name it .xlsx")
    text, used = _decode(data, encoding)
    text = text.removeprefix("\ufeff")
    delimiter = _delimiter(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise SheetError(f"{path.name} is not CSV that can be read ({exc})") from None
    shown = {"\t": "tab"}.get(delimiter, repr(delimiter))
    return _sheet([tuple(r) for r in records], f"CSV, {used}, delimiter {shown}")


def _delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()][:_HEADER_SEARCH]
    try:
        sniffed: str | None = csv.Sniffer().sniff(text[:65536], delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None

    def score(delimiter: str) -> int:  # the most known column names any early line makes
        return max((recognised(next(csv.reader([line], delimiter=delimiter), [])) for line in lines), default=0)

    best = max(DELIMITERS, key=score)
    if sniffed is not None and score(sniffed) >= score(best):
        return sniffed
    return best


def _xlsx(path: Path, name: str | None) -> Sheet:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not an Excel workbook"
        raise SheetError(f"cannot read {path.name}: {why}") from None
    try:
        if name is not None and name not in book.sheetnames:
            raise SheetError(f"{path.name} has no sheet {name!r}; it has {', '.join(map(repr, book.sheetnames))}")
        worksheet = book[name] if name is not None else book.worksheets[0]
        if not isinstance(worksheet, ReadOnlyWorksheet):
            raise SheetError(f"{path.name}: sheet {worksheet.title!r} is a chart, not a table of posts")
        records = [tuple(row) for row in worksheet.iter_rows(values_only=True)]
        return _sheet(records, f"sheet {worksheet.title!r}")
    finally:
        book.close()


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _sheet(records: Sequence[tuple[object, ...]], described: str) -> Sheet:
    numbered = [(number, cells) for number, cells in enumerate(records, 1) if not all(map(_blank, cells))]
    if not numbered:
        raise SheetError("the sheet is empty: it needs a header row (date, time, channels, text) and a row per post")
    # The header is the first row naming the needed columns; rows above it (a title) are skipped.
    first = next((i for i, (_, cells) in enumerate(numbered[:_HEADER_SEARCH]) if recognised(cells) >= 3), 0)
    header_row, header_cells = numbered[first]
    try:
        header = read_header(header_cells)
    except HeaderError as exc:
        raise SheetError(f"row {header_row}: {exc}") from None
    rows = tuple(Row(number, tuple(map(formulas.restore, cells))) for number, cells in numbered[first + 1 :])
    return Sheet(header, header_row, rows, described)
