"""`campaign new`, `campaign import` and `campaign export` as a user runs them: a new campaign that
validates and rehearses, a Dutch sheet (CSV and .xlsx) with rows to fix, a round trip, a calendar."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from icalendar import Calendar
from openpyxl import Workbook

from tests.builders import run_campaign

NOW = {"CAMPAIGN_NOW": "2027-01-01T00:00:00+01:00"}  # before the campaigns below start
ROWS = [
    ("Datum", "Tijd", "Kanalen", "Tekst", "Titel", "Hashtags"),
    ("15-11-2027", "10:30", "mastodon, bluesky", "Eerste bericht, met één café.", "Dag één", "week"),
    ("31-11-2027", "10:00", "mastodon", "Een dag die niet bestaat.", "", ""),
    ("16/11/2027", "9.15", "mastodonn", "Een kanaal dat niet bestaat.", "", ""),
    ("17-11-2027", "20:00", "Bluesky", "Tweede bericht.", "Avond", '"#DoeMee"'),
]


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    root = tmp_path / "campagne"
    result = run_campaign(tmp_path, "new", str(root), "--week", "2027-11-15", "--name", "Week: tegen X")
    assert result.returncode == 0, result.stderr
    return root


def test_new_then_validate_warns_only_of_the_placeholder_helpline_and_rehearse_publishes_everything(
    campaign: Path,
) -> None:
    result = run_campaign(campaign, "validate", **NOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [  # once, where it is written, however many posts use it
        "posts/_defaults.yml:11: warning: the helpline 0800-0000 is the starter's placeholder, not a real number; "
        "write your own in vars: helpline in posts/_defaults.yml before this post goes out"
    ]
    assert "12 posts, 20 planned sends: 0 errors, 1 warning" in result.stderr
    defaults = campaign / "posts" / "_defaults.yml"
    defaults.write_text(defaults.read_text(encoding="utf-8").replace("0800-0000", "0800-2000"), encoding="utf-8")
    result = run_campaign(campaign, "validate", **NOW)
    assert result.stdout == "" and "12 posts, 20 planned sends: 0 errors, 0 warnings" in result.stderr
    rehearsal = run_campaign(campaign, "rehearse", **NOW)
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert "rehearsal: 20 published" in rehearsal.stderr
    assert "ma 15 nov 2027 09:00 CET  bluesky      week/01-aftrap" in rehearsal.stdout


def test_new_without_a_week_starts_on_a_monday_four_weeks_ahead_and_never_overwrites(tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / "README.md").write_text("ons eigen\n", encoding="utf-8")
    result = run_campaign(tmp_path, "new", str(root), CAMPAIGN_NOW="2026-12-02T10:00:00+01:00")
    assert result.returncode == 0, result.stderr
    assert "the campaign week starts maandag 4 januari 2027" in result.stdout
    assert "kept  README.md (it was already there; not changed)" in result.stdout
    assert (root / "README.md").read_text(encoding="utf-8") == "ons eigen\n"
    assert run_campaign(root, "validate", CAMPAIGN_NOW="2026-12-02T10:00:00+01:00").returncode == 0
    wrong = run_campaign(tmp_path, "new", str(tmp_path / "d"), "--timezone", "Europe/Amsterdm")
    assert wrong.returncode == 2 and "did you mean 'Europe/Amsterdam'?" in wrong.stderr
    assert not (tmp_path / "d").exists()
    into_a_campaign = run_campaign(tmp_path, "new", str(root))
    assert into_a_campaign.returncode == 2 and "has a campaign already" in into_a_campaign.stderr


def check_import(campaign: Path, sheet: Path) -> None:
    dry = run_campaign(campaign, "import", str(sheet), "--dry-run", **NOW)
    assert dry.returncode == 1  # rows were not imported
    assert "row 2: would write posts/2027-11-15-dag-een.md" in dry.stdout
    assert "    title: Dag één\n    publish_at: 2027-11-15 10:30\n" in dry.stdout
    assert not list((campaign / "posts").glob("2027-*.md"))  # a dry run writes nothing

    result = run_campaign(campaign, "import", str(sheet), **NOW)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(
        line.startswith(f"{sheet.name}: row 3, column Datum (A): '31-11-2027' is not on the calendar") for line in lines
    )
    assert any(
        line.startswith(
            f"{sheet.name}: row 4, column Kanalen (C): unknown channel 'mastodonn'; did you mean 'mastodon'?"
        )
        for line in lines
    )
    assert "2 posts written, 2 rows not imported" in result.stderr
    assert sorted(p.name for p in (campaign / "posts").glob("2027-*.md")) == [
        "2027-11-15-dag-een.md",
        "2027-11-17-avond.md",
    ]
    validated = run_campaign(campaign, "validate", **NOW)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "14 posts, 23 planned sends: 0 errors" in validated.stderr
    preview = run_campaign(campaign, "preview", "--from", "2027-11-17", "--to", "2027-11-17", "--channel", "bluesky")
    assert "20:00  bluesky      2027-11-17-avond" in preview.stdout and "Tweede bericht." in preview.stdout


def test_a_semicolon_cp1252_csv_with_dutch_headers_imports_the_good_rows(campaign: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows([[c.strip('"') for c in row] for row in ROWS])
    sheet = tmp_path / "planning.csv"
    sheet.write_bytes(out.getvalue().encode("cp1252"))
    check_import(campaign, sheet)


def test_an_xlsx_with_dutch_headers_and_date_cells_imports_the_good_rows(campaign: Path, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for number, row in enumerate(ROWS):
        cells: list[object] = [c.strip('"') for c in row]
        if number in (1, 4):  # real date cells, as Excel keeps a date typed into a cell
            day, month, year = (int(part) for part in row[0].replace("/", "-").split("-"))
            cells[0] = datetime(year, month, day)
        sheet.append(cells)
    path = tmp_path / "planning.xlsx"
    book.save(path)
    check_import(campaign, path)


def test_export_then_import_keeps_every_post(campaign: Path, tmp_path: Path) -> None:
    exported = tmp_path / "export.csv"
    assert run_campaign(campaign, "export", "--format", "csv", "-o", str(exported)).returncode == 0
    other = tmp_path / "ander"
    assert run_campaign(tmp_path, "new", str(other), "--week", "2030-01-07", "--name", "Week: tegen X").returncode == 0
    for child in (other / "posts").iterdir():  # an empty campaign with the same settings
        if child.is_dir():
            shutil.rmtree(child)
        elif child.name != "_defaults.yml":
            child.unlink()
    imported = run_campaign(other, "import", str(exported), **NOW)
    assert imported.returncode == 0, imported.stderr
    assert "12 posts written" in imported.stderr
    again = tmp_path / "again.csv"
    assert run_campaign(other, "export", "--format", "csv", "-o", str(again)).returncode == 0
    assert again.read_bytes() == exported.read_bytes()
    assert exported.read_bytes().startswith(b"\xef\xbb\xbfdatum,tijd,kanalen,tekst")  # Excel reads the accents
    validated = run_campaign(other, "validate", **NOW)
    assert validated.returncode == 0 and "12 posts, 20 planned sends: 0 errors, 1 warning" in validated.stderr
    assert "the helpline 0800-0000 is the starter's placeholder" in validated.stdout  # still in its _defaults.yml
    # The same sheet again: every post is there already, by its id; nothing is doubled.
    twice = run_campaign(other, "import", str(exported), **NOW)
    assert twice.returncode == 0 and "0 posts written, 12 posts already there" in twice.stderr
    assert twice.stdout.count("is already there with the same content; left as it is") == 12
    # A post changed in the campaign since the export: the row is reported, the file is left as it is.
    changed = next((other / "posts").glob("*-hashtagdag.md"))
    changed.write_text(changed.read_text(encoding="utf-8").replace("Wat doe jij", "Wat doe je"), encoding="utf-8")
    third = run_campaign(other, "import", str(exported), **NOW)
    assert third.returncode == 1 and "0 posts written, 11 posts already there, 1 row not imported" in third.stderr
    assert "was changed since this sheet was exported" in third.stderr
    assert "Wat doe je" in changed.read_text(encoding="utf-8")


def test_export_ics_writes_a_calendar_with_stable_uids(campaign: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.ics", tmp_path / "b.ics"
    assert run_campaign(campaign, "export", "--format", "ics", "-o", str(first)).returncode == 0
    result = run_campaign(campaign, "export", "--format", "ics", "-o", str(second), "--channel", "mastodon")
    assert result.returncode == 0, result.stderr
    every = Calendar.from_ical(first.read_bytes())
    mastodon = Calendar.from_ical(second.read_bytes())
    assert len(every.events) == 20 and len(mastodon.events) == 12
    assert {str(e["uid"]) for e in mastodon.events} < {str(e["uid"]) for e in every.events}
    assert str(every["x-wr-calname"]) == "Week: tegen X"
    assert [z.tz_name for z in every.timezones] == ["Europe/Amsterdam"]
    wrong = run_campaign(campaign, "export", "--format", "ics", "--channel", "mastodn")
    assert wrong.returncode == 2 and "no channel 'mastodn'" in wrong.stderr


def test_a_post_with_a_problem_is_reported_by_its_row_by_a_dry_run_and_an_import(
    campaign: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "lang.csv"
    sheet.write_text(
        "date,time,channels,text\n2027-11-18,08:00,bluesky,Kort.\n2027-11-19,08:00,bluesky," + "lang " * 80 + "\n",
        encoding="utf-8",
    )
    before = sorted(p.relative_to(campaign) for p in campaign.rglob("*"))
    trial = run_campaign(campaign, "import", str(sheet), "--dry-run", **NOW)
    assert sorted(p.relative_to(campaign) for p in campaign.rglob("*")) == before  # nothing written, even for a moment
    assert trial.returncode == 1 and "2 posts would be written" in trial.stderr
    tried = [line for line in trial.stderr.splitlines() if line.startswith("row 3: posts/2027-11-19-lang-lang")]
    assert len(tried) == 1 and "over the limit of 300" in tried[0]  # the dry run plans what it would write
    result = run_campaign(campaign, "import", str(sheet), **NOW)
    assert result.returncode == 1
    assert "2 posts written" in result.stderr
    reported = [line for line in result.stderr.splitlines() if line.startswith("row 3: posts/2027-11-19-lang-lang")]
    assert len(reported) == 1 and "error: bluesky: text is" in reported[0] and "over the limit of 300" in reported[0]
    assert "row 2:" not in result.stderr  # the short one is fine
