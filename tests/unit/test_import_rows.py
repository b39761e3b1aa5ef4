"""A sheet → post files, in process: encodings, delimiters, .xlsx cells, each row's problems by row
and column, file names, and never a file overwritten."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from scheduler.content import yamlfile
from scheduler.content.campaign import load
from scheduler.content.drafts import read_all
from scheduler.importers import sheet as sheet_file
from scheduler.importers import writer
from scheduler.importers.columns import read_header
from scheduler.importers.importer import CannotImport, prepare
from scheduler.importers.rows import read_rows
from tests.builders import write_campaign

HASHTAGS = """\
sets:
  week: ["#DezeWeek"]
default: [week]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = write_campaign(tmp_path / "c", {}, hashtags=HASHTAGS)
    (root / "media").mkdir()
    (root / "media" / "foto.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


def csv_file(path: Path, lines: list[str], encoding: str) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.mark.parametrize(
    ("delimiter", "encoding"), [(";", "cp1252"), (",", "utf-8"), ("\t", "utf-8-sig"), ("|", "utf-16")]
)
def test_csv_in_any_common_delimiter_and_encoding_reads_the_same(
    root: Path, tmp_path: Path, delimiter: str, encoding: str
) -> None:
    out = io.StringIO()
    rows = csv.writer(out, delimiter=delimiter)
    rows.writerows([["datum", "tijd", "kanalen", "tekst"], ["15-11-2027", "09:00", "mastodon", "Één café, met komma"]])
    path = tmp_path / "posts.csv"
    path.write_bytes(out.getvalue().encode(encoding))
    read = sheet_file.read(path)
    assert read.rows[0].number == 2
    assert [str(c) for c in read.rows[0].cells] == ["15-11-2027", "09:00", "mastodon", "Één café, met komma"]


def test_the_sniffer_is_checked_against_the_header(root: Path, tmp_path: Path) -> None:
    # Text full of commas in a semicolon file: the header decides.
    path = csv_file(
        tmp_path / "p.csv",
        ["datum;tijd;kanalen;tekst", "15-11-2027;09:00;mastodon;a, b, c, d, e", "16-11-2027;09:00;mastodon;f, g, h, i"],
        "utf-8",
    )
    assert sheet_file.read(path).described == "CSV, utf-8, delimiter ';'"


def test_a_row_with_a_problem_is_reported_by_row_and_column_and_the_others_go_in(root: Path, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "p.csv",
        [
            "Datum;Tijd;Kanalen;Tekst;Titel;Hashtags;Afbeelding;Alt",
            "15-11-2027;09:00;mastodon, Bluesky;Eerste;Dag 1: start;#Extra week;media/foto.png;Een foto",
            "31-02-2027;09:00;mastodon;Slechte datum;;;;",
            "16-11-2027;09:00;mastadon;Onbekend kanaal;;;;",
            "17-11-2027;;mastodon;Geen tijd;;;;",
            "18-11-2027;09:00;mastodon;Foto zonder alt;;;media/foto.png;",
            "19-11-2027;09:00;mastodon;Set die er niet is;;weeek;;",
            "20-11-2027;09:00;mastodon;{{ niet dicht;;;;",
            "21-11-2027;09:00;mastodon;Geen tags;;-;;",
        ],
        "cp1252",
    )
    prepared = prepare(root, path)
    problems = {(p.row, p.column): p.message for p in prepared.problems}
    assert set(problems) == {
        (3, "Datum (A)"),
        (4, "Kanalen (C)"),
        (5, "Tijd (B)"),
        (6, "Alt (H)"),
        (7, "Hashtags (F)"),
        (8, "Tekst (D)"),
    }
    assert "did you mean 'mastodon'?" in problems[(4, "Kanalen (C)")]
    assert "did you mean 'week'?" in problems[(7, "Hashtags (F)")]
    assert [p.row for p in prepared.planned] == [2, 9]
    first = prepared.planned[0]
    assert first.path == "posts/2027-11-15-dag-1-start.md"
    assert first.content == (
        "---\nid: 2027-11-15-dag-1-start\ntitle: 'Dag 1: start'\npublish_at: 2027-11-15 09:00\nchannels: [mastodon, bluesky]\n"
        "hashtags: ['#Extra', week]\nmedia:\n- {path: media/foto.png, alt: Een foto}\n---\nEerste\n"
    )
    assert "hashtags: []" in prepared.planned[1].content


def test_an_xlsx_with_date_and_time_cells_imports(root: Path, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Datum", "Tijd", "Kanalen", "Tekst", "Concept"])
    sheet.append([datetime(2027, 11, 15), time(9, 0), "mastodon", "Uit een werkblad", "ja"])
    sheet.append(["16-11-2027", "10.30", "bluesky", 12, None])
    sheet.append([None, None, None, None, None])
    sheet.append(["15/13/2027", "10:00", "bluesky", "Maand 13", None])
    path = tmp_path / "posts.xlsx"
    book.save(path)
    prepared = prepare(root, path)
    assert [(p.row, p.column) for p in prepared.problems] == [(5, "Datum (A)")]
    assert [p.path for p in prepared.planned] == ["posts/2027-11-15-uit-een-werkblad.md", "posts/2027-11-16-12.md"]
    assert (
        "publish_at: 2027-11-15 09:00" in prepared.planned[0].content and "draft: true" in prepared.planned[0].content
    )
    assert "publish_at: 2027-11-16 10:30" in prepared.planned[1].content


def test_a_name_that_is_taken_gets_a_suffix_and_the_same_file_is_left_alone(root: Path, tmp_path: Path) -> None:
    (root / "posts" / "2027-11-15-hallo.md").write_text("iets anders", encoding="utf-8")
    path = csv_file(tmp_path / "p.csv", ["date,time,channels,text", "2027-11-15,09:00,mastodon,Hallo"], "utf-8")
    first = prepare(root, path).planned
    assert [p.path for p in first] == ["posts/2027-11-15-hallo-2.md"]
    written, raced = writer.write(root, first)
    assert written == list(first) and raced == []
    assert (root / "posts" / "2027-11-15-hallo.md").read_text(encoding="utf-8") == "iets anders"
    again = prepare(root, path).planned
    assert [(p.path, p.unchanged) for p in again] == [("posts/2027-11-15-hallo-2.md", True)]


def test_a_row_whose_id_is_already_a_post_updates_that_post_and_is_never_doubled(root: Path, tmp_path: Path) -> None:
    (root / "posts" / "oud.md").write_text(
        "---\n# onze eigen opmerking\npublish_at: 2027-11-14 09:00\nmax_late: 1 hour\n---\nOud\n", encoding="utf-8"
    )
    path = csv_file(
        tmp_path / "p.csv",
        [
            "date,time,channels,text,id",
            "2027-11-15,09:00,mastodon,Nieuw,oud",
            "2027-11-16,09:00,mastodon,A,x",
            "2027-11-17,09:00,mastodon,B,x",
        ],
        "utf-8",
    )
    prepared = prepare(root, path)
    assert [(p.row, p.column) for p in prepared.problems] == [(4, "id (E)")]
    assert [p.row for p in prepared.planned] == [2, 3]
    update = prepared.planned[0]
    assert update.path == "posts/oud.md" and update.changed == ("time", "text")
    # The sheet has no version column: said once, for the whole sheet.
    assert prepared.notes and "no version column" in prepared.notes[0]
    writer.write(root, prepared.planned)
    assert (root / "posts" / "oud.md").read_text(encoding="utf-8") == (
        "---\n# onze eigen opmerking\npublish_at: '2027-11-15 09:00'\nmax_late: 1 hour\n---\nNieuw\n"
    )
    again = prepare(root, path)  # rows 2 and 3 are in the campaign now, as the sheet says
    assert [(p.row, p.unchanged) for p in again.planned] == [(2, True), (3, True)]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("p.csv", "titel,tekst\nA,B\n", "needs a column for date"),
        ("p.xls", "", "save the sheet as .xlsx"),
        ("p.xlsx", "not a zip", "not an Excel workbook"),
        ("p.csv", "\n\n", "empty"),
    ],
)
def test_a_file_that_cannot_be_a_sheet_of_posts_says_why(
    root: Path, tmp_path: Path, name: str, content: str, says: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CannotImport, match=says):
        prepare(root, path)


def test_into_must_be_a_folder_under_posts(root: Path, tmp_path: Path) -> None:
    path = csv_file(tmp_path / "p.csv", ["date,time,channels,text", "2027-11-15,09:00,mastodon,Hallo"], "utf-8")
    assert prepare(root, path, into="posts/november").planned[0].path == "posts/november/2027-11-15-hallo.md"
    for wrong in ("media", "posts/_oud", "../elders"):
        with pytest.raises(CannotImport, match="--into"):
            prepare(root, path, into=wrong)


def test_slugs_are_ascii_words() -> None:
    assert writer.slug("Dag één: start!") == "dag-een-start"
    assert writer.slug("🎉") == "post"


def test_a_given_encoding_is_used_and_a_wrong_one_says_so(root: Path, tmp_path: Path) -> None:
    path = csv_file(tmp_path / "p.csv", ["date,time,channels,text", "2027-11-15,09:00,mastodon,Café"], "cp1252")
    assert "Café" in prepare(root, path, encoding="cp1252").planned[0].content
    with pytest.raises(CannotImport, match="not utf-8"):
        prepare(root, path, encoding="utf-8")
    with pytest.raises(CannotImport, match="unknown encoding"):
        prepare(root, path, encoding="klingon")


def test_a_title_above_the_header_is_skipped(root: Path, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "p.csv",
        ["Planning november;;;", ";;;", "Datum;Tijd;Kanalen;Tekst", "15-11-2027;09:00;mastodon;Hallo"],
        "utf-8",
    )
    prepared = prepare(root, path)
    assert prepared.sheet.header_row == 3 and [p.row for p in prepared.planned] == [4]


def test_nothing_is_imported_while_a_settings_file_is_broken(root: Path, tmp_path: Path) -> None:
    path = csv_file(tmp_path / "p.csv", ["date,time,channels,text", "2027-11-15,09:00,mastodon,Hallo"], "utf-8")
    (root / "hashtags.yml").write_text("sets: [\n", encoding="utf-8")
    with pytest.raises(CannotImport, match=r"hashtags.yml:\d+: error: .*; fix it first"):
        prepare(root, path)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=st.text(
        alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), min_size=1, max_size=40
    )
    .map(str.strip)
    .filter(bool),
    text=st.text(
        alphabet=st.characters(blacklist_characters="{}%\r\x00", blacklist_categories=["Cs"]), min_size=1, max_size=200
    )
    .map(str.strip)
    .filter(bool),
)
def test_what_a_row_says_is_what_the_post_file_says(root: Path, title: str, text: str) -> None:
    read = sheet_file.Sheet(
        read_header(["date", "time", "channels", "text", "title"]),
        1,
        (sheet_file.Row(2, ("2027-11-15", "09:00", "mastodon", text, title)),),
        "fuzz",
    )
    campaign = load(root)[0]
    posts, problems = read_rows(read, campaign)
    assert problems == []
    path = root / "posts" / "fuzz.md"
    path.write_text(writer.content(posts[0]), encoding="utf-8")
    drafts, found = read_all(campaign)
    assert [p for p in found if p.is_error] == []
    assert [(d.title, d.body.strip("\n")) for d in drafts] == [(" ".join(title.split()), text)]


@settings(max_examples=300, deadline=None, database=None)
@given(value=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30))
def test_front_matter_is_written_so_it_reads_back_the_same(value: str) -> None:
    written = yamlfile.dump({"title": value, "channels": ["mastodon"]})
    assert yamlfile.load(written) == {"title": value, "channels": ["mastodon"]}


@pytest.mark.parametrize("value", ["0E0", "no", "1e3", ".5", "~", "", "null", "True", "2027-11-15", "a\x85b", "#Tag"])
def test_strings_that_look_like_other_things_are_quoted(value: str) -> None:
    assert yamlfile.load(yamlfile.dump({"title": value, "channels": []}))["title"] == value
