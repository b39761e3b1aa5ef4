"""Issue #17, item 10: what a sheet from outside may make `campaign import` do is bounded. A workbook's
`<dimension>` claiming 17 billion cells is not believed; cells far out, too many rows, XML that unpacks
to gigabytes, an XML entity (a billion laughs, a file of this computer) or a CSV file of gigabytes are
refused at once, in a person's words that name the file. Each workbook is made here, byte by byte, as
an attacker would."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.cli.main import main
from scheduler.importers import sheet as sheet_file
from tests.builders import write_campaign

NOW = {"CAMPAIGN_NOW": "2027-01-01T00:00:00+01:00"}
GUARD = 90  # seconds: only against a hang (before the fix, the dimension alone ran for minutes)

_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
_BOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Posts" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_BOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>'
)


def cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


HEADER = (
    '<row r="1">'
    + "".join(cell(f"{c}1", t) for c, t in zip("ABCD", ("date", "time", "channels", "text"), strict=True))
    + "</row>"
)
POST = '<row r="2">' + "".join(
    cell(f"{c}2", t) for c, t in zip("ABCD", ("2027-11-15", "10:00", "mastodon", "Hallo wereld."), strict=True)
)


def workbook(path: Path, rows: str | list[str], *, dimension: str = "A1:D2", prolog: str = "") -> Path:
    """A workbook whose one sheet has `rows` (XML; a list is written piece by piece, for big sheets)."""
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _BOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(head.encode())
            for piece in [rows] if isinstance(rows, str) else rows:
                part.write(piece.encode())
            part.write(b"</sheetData></worksheet>")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_campaign(tmp_path / "campagne", {})


def import_(root: Path, sheet: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGN_ROOT", "DATABASE_URL")} | NOW
    command = [sys.executable, "-m", "scheduler", "--root", str(root), "import", str(sheet), "--dry-run"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=GUARD, check=False)


def refused(result: subprocess.CompletedProcess[str], sheet: Path, words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"Error: {sheet}: "), result.stderr  # the file, named
    assert words in result.stderr, result.stderr
    assert "would write" not in result.stdout


def test_a_dimension_claiming_every_cell_of_excel_is_not_believed(root: Path, tmp_path: Path) -> None:
    # A row Excel's last row, formatted but empty: every row between is padded to the dimension's width.
    empty_last = '<row r="1048576" s="1" customFormat="1"/>'
    sheet = workbook(tmp_path / "groot.xlsx", HEADER + POST + "</row>" + empty_last, dimension="A1:XFD1048576")
    assert sheet.stat().st_size < 5_000
    result = import_(root, sheet)
    assert result.returncode == 0, result.stderr
    assert "groot.xlsx (sheet 'Posts'): 1 row after the header" in result.stderr
    assert "row 2: would write posts/2027-11-15-hallo-wereld.md" in result.stdout


def test_a_cell_far_out_is_refused_with_its_place(root: Path, tmp_path: Path) -> None:
    wide = workbook(tmp_path / "breed.xlsx", HEADER + POST + cell("XFD2", "x") + "</row>", dimension="A1:XFD2")
    refused(import_(root, wide), wide, "row 2, column XFD has something in it; a sheet of posts may use 200 columns")
    low = workbook(tmp_path / "diep.xlsx", HEADER + POST + "</row>" + f'<row r="1048576">{cell("A1048576", "x")}</row>')
    refused(import_(root, low), low, "row 1048576 has something in it; a sheet of posts may have 50,000 rows")


def test_a_sheet_of_many_rows_is_refused_when_it_passes_the_bound(root: Path, tmp_path: Path) -> None:
    assert sheet_file.MAX_ROWS == 50_000
    rows = "".join(f'<row r="{n}">{cell(f"D{n}", "x")}</row>' for n in range(3, 100_001))
    many = workbook(tmp_path / "veel.xlsx", HEADER + POST + "</row>" + rows, dimension="A1:D100000")
    refused(import_(root, many), many, "row 50001 has something in it; a sheet of posts may have 50,000 rows")


def test_xml_that_unpacks_to_gigabytes_is_refused_before_it_is_read(root: Path, tmp_path: Path) -> None:
    padding = " " * 1_000_000  # whitespace between rows: valid XML, and it packs to almost nothing
    bomb = workbook(tmp_path / "bom.xlsx", [HEADER, POST + "</row>", *([padding] * 120)])
    assert bomb.stat().st_size < 1_000_000
    refused(import_(root, bomb), bomb, "the workbook unpacks to 120 MB of XML")


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE worksheet [<!ENTITY x "date">]>',
        '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]>",
        '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/hostname">]>',
    ],
    ids=["entity", "billion laughs", "a file of this computer"],
)
def test_an_xml_entity_is_refused_in_a_persons_words(root: Path, tmp_path: Path, prolog: str) -> None:
    entity = workbook(tmp_path / "entiteit.xlsx", HEADER + POST + "</row>", prolog=prolog)
    refused(import_(root, entity), entity, "declares an XML entity")


def test_a_csv_file_past_the_bounds_is_refused(root: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rijen.csv"
    rows.write_text("date,time,channels,text\n" + "2027-11-15,10:00,mastodon,Hallo\n" * 50_000, encoding="utf-8")
    refused(import_(root, rows), rows, "row 50001 has something in it; a sheet of posts may have 50,000 rows")
    wide = tmp_path / "breed.csv"
    wide.write_text("date,time,channels,text" + "," * 300 + "x\n2027-11-15,10:00,mastodon,Hallo\n", encoding="utf-8")
    refused(import_(root, wide), wide, "row 1, column KR has something in it")  # the 304th
    big = tmp_path / "groot.csv"
    with big.open("w", encoding="utf-8") as out:
        out.write("date,time,channels,text\n")
        for _ in range(51):
            out.write("2027-11-15,10:00,mastodon," + "x" * 1_000_000 + "\n")
    refused(import_(root, big), big, "the file is over 50 MB")


def test_a_sheet_that_takes_longer_than_its_time_is_refused(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheet_file, "READ_SECONDS", 0.0)  # a budget spent before the first row
    sheet = workbook(tmp_path / "traag.xlsx", HEADER + POST + "</row>")
    result = CliRunner().invoke(main, ["--root", str(root), "import", str(sheet), "--dry-run"])
    assert result.exit_code == 1
    assert f"Error: {sheet}: reading the sheet took over 0 seconds (at row 1)" in result.output
