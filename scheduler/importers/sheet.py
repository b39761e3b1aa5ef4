"""A spreadsheet file → its header and rows of cells, numbered as the spreadsheet numbers them.

CSV: the encoding is found from a byte-order mark, else UTF-8, else Windows-1252 (what Excel writes
on Dutch and English Windows); the delimiter by the csv module's Sniffer, checked against the header
(the candidate that makes the most known column names wins when the Sniffer is unsure or wrong).
.xlsx: the first sheet (or `sheet`), read by openpyxl with the values Excel shows (dates and times
as Excel stores them). Every error of either library is translated here, into SheetError.
A cell that `campaign export` kept from being a formula (`'=...`, `'-5 graden`) is read as the text it
was (scheduler.formulas). A formula is never read as a plain value: a CSV cell that starts with `=`,
and an .xlsx formula cell (read a second time with data_only=False for its text, beside the value
saved with it), is a Formula; a cell with a link on it (Insert > Link) is Linked, with its address
from the sheet's relationships. scheduler.importers.rows decides what each becomes.

A sheet comes from outside, so what it may make the importer do is bounded, and a sheet past a bound
is refused with why: at most MAX_ROWS rows and MAX_COLUMNS columns with something in them, a CSV
file of at most MAX_BYTES, a workbook whose XML unpacks to at most MAX_UNPACKED, and READ_SECONDS
to read it. A workbook's `<dimension>` (which says how big the sheet is) is not trusted: only the
cells that are there are read. Its XML is parsed by defusedxml (openpyxl uses it when installed), so
an entity declaration (a billion laughs, a file of this computer) is refused, not expanded.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException, ElementTree

from scheduler import formulas
from scheduler.importers.columns import Header, HeaderError, letter, read_header, recognised

DELIMITERS = ",;\t|"
_HEADER_SEARCH = 10  # rows looked at for the header
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# A year of daily posts on every channel is a few thousand rows, and an export of the largest campaign
# this tool is measured with (bench/planning.py: 10,000 posts) is 10,001: these bounds are far above any
# real sheet of posts, and far below what makes an import take minutes or gigabytes.
MAX_ROWS = 50_000
MAX_COLUMNS = 200
MAX_BYTES = 50_000_000  # a CSV file
MAX_UNPACKED = 100_000_000  # the XML inside a workbook, unpacked
READ_SECONDS = 60.0
_RESAVE = "save it again from Excel or LibreOffice"


class SheetError(ValueError):
    """The file cannot be read as a sheet of posts; the message says why and what to do."""


@dataclass(frozen=True)
class Formula:
    """A cell that holds a formula (`=HYPERLINK("https://…","Veilig Thuis")`), never read as its text
    or its shown value without a word: scheduler.importers.rows keeps a link, warns about any other."""

    written: str  # as written, with its `=`
    value: object  # the value the spreadsheet program saved with it; None when the file holds none
    in_csv: bool  # a CSV file holds the formula's text only, never its value

    def __str__(self) -> str:
        return self.written


@dataclass(frozen=True)
class Linked:
    """A cell with a link on it (Excel's Insert > Link, Ctrl+K): the text it shows, and the address
    kept beside the cell, which a value alone would lose."""

    value: object
    address: str

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet shows it: the header is usually row 1
    cells: tuple[object, ...]  # str or Formula for CSV; also int, float, datetime, date, time or None for .xlsx


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
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SheetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise SheetError(
            f"the file is over {MAX_BYTES // 1_000_000} MB, far more than a sheet of posts needs; "
            "is it the right file? Split it, or leave out what is not posts"
        )
    if data.startswith(b"PK\x03\x04"):
        raise SheetError(f"{path.name} is a workbook (zip), not CSV; name it .xlsx")
    text, used = _decode(data, encoding)
    text = text.removeprefix("\ufeff")
    delimiter = _delimiter(text)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    shown = {"\t": "tab"}.get(delimiter, repr(delimiter))
    try:
        return _sheet(_bounded(records), f"CSV, {used}, delimiter {shown}")
    except csv.Error as exc:
        raise SheetError(f"{path.name} is not CSV that can be read ({exc})") from None


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
    import openpyxl
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    if not openpyxl.DEFUSEDXML:  # installed with us; only OPENPYXL_DEFUSEDXML=False turns it off
        raise SheetError(
            ".xlsx files are read only with defusedxml, and OPENPYXL_DEFUSEDXML turns it off; unset it, "
            "or save the sheet as CSV"
        )
    _check_unpacked(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            written = load_workbook(path, read_only=True, data_only=False)  # the formulas themselves
        except BaseException:
            book.close()
            raise
    except ParseError:
        raise SheetError(f"the XML inside the workbook is broken; {_RESAVE}") from None
    except ValueError as exc:
        if _caused_by(exc, DefusedXmlException):  # openpyxl says "invalid XML", with defusedxml's refusal as cause
            raise SheetError(_ENTITY) from None
        raise SheetError(f"cannot read {path.name}: it is not an Excel workbook") from None
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not an Excel workbook"
        raise SheetError(f"cannot read {path.name}: {why}") from None
    try:
        if name is not None and name not in book.sheetnames:
            raise SheetError(f"{path.name} has no sheet {name!r}; it has {', '.join(map(repr, book.sheetnames))}")
        worksheet = book[name] if name is not None else book.worksheets[0]
        formulas_sheet = written[worksheet.title]
        if not isinstance(worksheet, ReadOnlyWorksheet) or not isinstance(formulas_sheet, ReadOnlyWorksheet):
            raise SheetError(f"{path.name}: sheet {worksheet.title!r} is a chart, not a table of posts")
        worksheet.reset_dimensions()  # read the cells that are there, not as many as <dimension> claims
        formulas_sheet.reset_dimensions()
        sheet_path = str(getattr(worksheet, "_worksheet_path", ""))
        rows: Generator[tuple[object, ...], None, None] = worksheet.iter_rows(values_only=True)
        try:
            if not sheet_path or _mentions(path, sheet_path, _FORMULA_TAGS):  # else one reading is enough
                rows = _with_formulas(rows, formulas_sheet.iter_rows())
            rows = _with_links(rows, _hyperlinks(path, sheet_path))
            return _sheet(_bounded(rows), f"sheet {worksheet.title!r}")
        except SheetError:  # a bound, or the header: said already
            raise
        except (ParseError, zipfile.BadZipFile, EOFError, KeyError, TypeError, ValueError) as exc:
            if _caused_by(exc, DefusedXmlException):
                raise SheetError(_ENTITY) from None
            raise SheetError(f"sheet {worksheet.title!r} cannot be read: its XML is broken; {_RESAVE}") from None
        finally:
            rows.close()  # a read stopped at a bound leaves the sheet's XML open in the suspended reader
    finally:
        book.close()
        written.close()


def _with_links(
    rows: Generator[tuple[object, ...], None, None], address: Callable[[int, int], str | None]
) -> Generator[tuple[object, ...], None, None]:
    """Each row with Linked where a link is on a cell that shows something."""
    try:
        for number, row in enumerate(rows, 1):
            yield tuple(
                Linked(value, found)
                if value is not None and not isinstance(value, Formula) and (found := address(number, i))
                else value
                for i, value in enumerate(row)
            )
    finally:
        rows.close()


def _with_formulas(
    values: Generator[tuple[object, ...], None, None], cells: Generator[tuple[Any, ...], None, None]
) -> Generator[tuple[object, ...], None, None]:
    """Each row's values (as the spreadsheet program saved them), with a Formula where a cell has one."""
    try:
        for shown, row in zip(values, cells, strict=False):
            yield tuple(
                Formula(_formula_text(row[i].value), value, in_csv=False)
                if i < len(row) and getattr(row[i], "data_type", None) == "f"
                else value
                for i, value in enumerate(shown)
            )
    finally:
        values.close()
        cells.close()


def _formula_text(value: object) -> str:
    text = getattr(value, "text", value)  # an array formula is an object with its text
    written = "" if text is None else str(text)
    return written if written.startswith("=") else "=" + written


_ENTITY = (
    "the workbook declares an XML entity (or another DTD trick), which a spreadsheet program never writes, "
    f"so it is not read; {_RESAVE}"
)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):  # a chain is short; never follow one round in circles
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _check_unpacked(path: Path) -> None:
    """Refuse a workbook whose XML unpacks to more than MAX_UNPACKED (a zip bomb), before any is parsed."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not an Excel workbook"
        raise SheetError(f"cannot read {path.name}: {why}") from None
    unpacked = sum(m.file_size for m in members if m.filename.endswith((".xml", ".rels")))
    if unpacked > MAX_UNPACKED:
        raise SheetError(
            f"the workbook unpacks to {unpacked / 1e6:,.0f} MB of XML, far more than a sheet of posts needs "
            f"(at most {MAX_UNPACKED // 1_000_000} MB); is it the right file? Split it, or {_RESAVE} "
            "with only the posts"
        )


def _bounded(records: Iterable[Sequence[object]]) -> Iterator[tuple[int, tuple[object, ...]]]:
    """The rows that have anything in them, numbered as the spreadsheet numbers them (from 1); a
    SheetError past MAX_ROWS, MAX_COLUMNS or READ_SECONDS."""
    deadline = time.monotonic() + READ_SECONDS
    for number, cells in enumerate(records, 1):
        if time.monotonic() >= deadline:
            raise SheetError(
                f"reading the sheet took over {READ_SECONDS:.0f} seconds (at row {number}), far longer than a "
                f"sheet of posts needs; {_RESAVE} with only the posts, or as CSV"
            )
        if len(cells) > MAX_COLUMNS:
            beyond = next((i for i, cell in enumerate(cells[MAX_COLUMNS:], MAX_COLUMNS) if not _blank(cell)), None)
            if beyond is not None:
                raise SheetError(
                    f"row {number}, column {letter(beyond)} has something in it; a sheet of posts may use "
                    f"{MAX_COLUMNS} columns (up to {letter(MAX_COLUMNS - 1)}): move it, or leave it out"
                )
            cells = cells[:MAX_COLUMNS]
        if all(map(_blank, cells)):
            continue
        if number > MAX_ROWS:
            raise SheetError(
                f"row {number} has something in it; a sheet of posts may have {MAX_ROWS:,} rows: split it "
                "into sheets of fewer rows, or remove what is below the posts"
            )
        yield number, tuple(cells)


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _sheet(records: Iterable[tuple[int, tuple[object, ...]]], described: str) -> Sheet:
    numbered = list(records)
    if not numbered:
        raise SheetError("the sheet is empty: it needs a header row (date, time, channels, text) and a row per post")
    # The header is the first row naming the needed columns; rows above it (a title) are skipped.
    first = next((i for i, (_, cells) in enumerate(numbered[:_HEADER_SEARCH]) if recognised(cells) >= 3), 0)
    header_row, header_cells = numbered[first]
    try:
        header = read_header(header_cells)
    except HeaderError as exc:
        raise SheetError(f"row {header_row}: {exc}") from None
    read = tuple(Row(number, tuple(map(_restored, cells))) for number, cells in numbered[first + 1 :])
    return Sheet(header, header_row, read, described)


def _restored(cell: object) -> object:
    """A cell as read: a CSV cell that starts with `=` (no `'` before it, which export writes) is a
    formula as a spreadsheet program would run it; a `'`-kept cell is the text it was."""
    if isinstance(cell, str) and cell.lstrip(" ").startswith("="):
        return Formula(cell.strip(), None, in_csv=True)
    return formulas.restore(cell)


_RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _hyperlinks(path: Path, worksheet_path: str) -> Callable[[int, int], str | None]:
    """The address of the link on a cell (row, column index), if any: the sheet's `<hyperlinks>`, with
    their addresses in its relationships; read only when the sheet's XML mentions any."""
    from openpyxl.utils.cell import range_boundaries

    folder, _, name = worksheet_path.rpartition("/")
    if not worksheet_path:
        return lambda row, column: None
    cells: dict[tuple[int, int], str] = {}
    ranges: list[tuple[int, int, int, int, str]] = []
    if not _mentions(path, worksheet_path, (b"hyperlink",)):
        return lambda row, column: None
    with zipfile.ZipFile(path) as archive:
        try:
            rels = ElementTree.fromstring(archive.read(f"{folder}/_rels/{name}.rels"))
        except KeyError:  # no relationships: no link leads outside the workbook
            return lambda row, column: None
        targets = {
            rel.get("Id"): rel.get("Target", "")
            for rel in rels
            if (rel.get("Type") or "").endswith("/hyperlink") and rel.get("TargetMode") == "External"
        }
        with archive.open(worksheet_path) as xml:
            for _, element in ElementTree.iterparse(xml, events=("end",)):
                tag = element.tag.rpartition("}")[2]
                if tag == "hyperlink" and element.get(_RELATIONSHIPS) in targets:
                    low, top, high, bottom = range_boundaries(element.get("ref", "A1"))
                    address = targets[element.get(_RELATIONSHIPS)]
                    if (low, top) == (high, bottom):
                        cells[top or 1, (low or 1) - 1] = address
                    elif len(ranges) < MAX_COLUMNS:
                        ranges.append((top or 1, (low or 1) - 1, bottom or top or 1, (high or low or 1) - 1, address))
                    else:
                        raise SheetError(f"the sheet has over {MAX_COLUMNS} links over ranges of cells; {_RESAVE}")
                elif tag in ("row", "c"):
                    element.clear()  # the cells were read already: keep no tree of them

    def lookup(row: int, column: int) -> str | None:
        found = cells.get((row, column))
        if found is None:
            found = next(
                (a for top, low, bottom, high, a in ranges if top <= row <= bottom and low <= column <= high), None
            )
        return found

    return lookup


def _mentions(path: Path, member: str, words: tuple[bytes, ...]) -> bool:
    """Whether the XML of `member` holds any of `words`, read as bytes: far quicker than parsing it."""
    longest = max(map(len, words))
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        tail = b""
        while chunk := stream.read(1 << 20):
            if any(word in tail + chunk for word in words):
                return True
            tail = chunk[-longest:]
    return False


_FORMULA_TAGS = (b"<f>", b"<f ", b"<f/", b":f>", b":f ", b":f/")  # a formula's element, with or without a prefix
