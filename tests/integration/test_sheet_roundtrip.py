"""A Dutch comms team's sheet, exported, edited and imported back, as a user runs it (the real CLI):
updates by id on CSV (cp1252, `;`) and .xlsx with Dutch headers, a post changed since the export, a
published post, formulas (links kept, any other said), and a row copied by accident."""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import subprocess
import sys
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import frontmatter
import pytest
from openpyxl import Workbook

from tests.builders import run_campaign

NOW = {"CAMPAIGN_NOW": "2027-01-01T00:00:00+01:00"}  # before the campaign starts
DOCS = Path(__file__).resolve().parents[2] / "docs" / "spreadsheets.md"


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    root = tmp_path / "campagne"
    made = run_campaign(tmp_path, "new", str(root), "--week", "2027-11-15", "--name", "Week: tegen X")
    assert made.returncode == 0, made.stderr
    return root


def export(root: Path, path: Path) -> list[dict[str, str]]:
    done = run_campaign(root, "export", "--format", "csv", "--delimiter", ";", "-o", str(path), **NOW)
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))


def save_as_excel_csv(rows: list[dict[str, str]], path: Path) -> None:
    """As Excel in Dutch saves a sheet as CSV: `;`, Windows-1252, dates and times as it shows them."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        day = date.fromisoformat(row["datum"])
        writer.writerow({**row, "datum": f"{day.day} {_MAANDEN[day.month - 1]} {day.year}", "tijd": _uur(row["tijd"])})
    path.write_bytes(out.getvalue().encode("cp1252"))


_MAANDEN = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
            "november", "december"]  # fmt: skip


def _uur(written: str) -> str:
    hour, minute = written.split(":")
    return f"{int(hour)}u" if minute == "00" else f"{int(hour)}:{minute}"


def by_id(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in rows}


def read_post(root: Path, name: str) -> frontmatter.Post:
    return frontmatter.loads((root / "posts" / name).read_text(encoding="utf-8"))


def test_an_exported_sheet_edited_in_excel_and_imported_back_updates_its_posts(campaign: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "planning.csv"
    rows = export(campaign, sheet)
    assert len(rows) == 12 and all(row["versie"] for row in rows)
    before = {p: p.read_text(encoding="utf-8") for p in (campaign / "posts").rglob("*.md")}
    # Imported back as it is: every post is there already; nothing is written, nothing doubled.
    same = run_campaign(campaign, "import", str(sheet), **NOW)
    assert same.returncode == 0, same.stderr
    assert "0 posts written, 12 posts already there" in same.stderr
    # Edited: a text, a title and a story's channels; a new row; saved by Excel in Dutch.
    found = by_id(rows)
    found["hashtagdag"]["tekst"] = "Wat doe jíj deze week? Deel het met {{ hashtags }}"
    found["week/02-kijk-om-je-heen"]["titel"] = "Dag 2: kijk goed om je heen"
    found["verhalen/01-de-juf"]["kanalen"] = "mastodon, bluesky"
    rows.append({**{k: "" for k in rows[0]}, "datum": "2027-11-22", "tijd": "20:00", "kanalen": "bluesky",
                 "tekst": "Een nieuw bericht.", "titel": "Nieuw"})  # fmt: skip
    save_as_excel_csv(rows, sheet)

    dry = run_campaign(campaign, "import", str(sheet), "--dry-run", **NOW)
    assert dry.returncode == 0, dry.stderr
    assert {p: p.read_text(encoding="utf-8") for p in (campaign / "posts").rglob("*.md")} == before
    assert "1 post would be written, 3 posts would be updated, 9 posts already there" in dry.stderr
    assert "row 5: would update posts/hashtagdag.md (text)\n" in dry.stdout
    assert "    -Wat doe jij deze week? Deel het met {{ hashtags }}\n" in dry.stdout
    assert "    +Wat doe jíj deze week? Deel het met {{ hashtags }}\n" in dry.stdout
    assert "would update posts/verhalen/01-de-juf.md (channels)" in dry.stdout

    done = run_campaign(campaign, "import", str(sheet), **NOW)
    assert done.returncode == 0, done.stderr
    assert "1 post written, 3 posts updated, 9 posts already there" in done.stderr
    hashtagdag = (campaign / "posts" / "hashtagdag.md").read_text(encoding="utf-8")
    # Only what the row changed: the comments, the order and every other key stay as they were.
    assert hashtagdag == before[campaign / "posts" / "hashtagdag.md"].replace("Wat doe jij", "Wat doe jíj")
    assert read_post(campaign, "week/02-kijk-om-je-heen.md")["title"] == "Dag 2: kijk goed om je heen"
    assert "publish_at" not in read_post(campaign, "week/02-kijk-om-je-heen.md")  # still a member of its series
    assert read_post(campaign, "verhalen/01-de-juf.md")["channels"] == ["mastodon", "bluesky"]
    new = read_post(campaign, "2027-11-22-nieuw.md")
    assert new["id"] == "2027-11-22-nieuw"  # the import writes the id, so the next export finds it again
    validated = run_campaign(campaign, "validate", **NOW)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    # Exported and imported again: every row is its post, as the sheet says; exit 0.
    again = tmp_path / "opnieuw.csv"
    again_rows = by_id(export(campaign, again))
    assert again_rows["hashtagdag"]["tekst"] == found["hashtagdag"]["tekst"]
    assert again_rows["2027-11-22-nieuw"]["titel"] == "Nieuw"
    twice = run_campaign(campaign, "import", str(again), **NOW)
    assert twice.returncode == 0 and "0 posts written, 13 posts already there" in twice.stderr
    assert run_campaign(campaign, "import", str(sheet), **NOW).returncode == 0  # the edited sheet again: nothing new


def test_an_xlsx_with_dutch_headers_edited_and_imported_back_updates_its_post(campaign: Path, tmp_path: Path) -> None:
    rows = export(campaign, tmp_path / "planning.csv")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(rows[0]))
    for row in rows:  # as Excel keeps what it reads: date and time cells
        cells: list[object] = list(row.values())
        cells[0] = datetime.combine(date.fromisoformat(row["datum"]), time())
        cells[1] = time.fromisoformat(row["tijd"])
        if row["id"] == "week/03-luister":
            cells[3] = "Luister zonder te oordelen, en zonder haast."
        sheet.append(cells)
    path = tmp_path / "planning.xlsx"
    book.save(path)
    done = run_campaign(campaign, "import", str(path), **NOW)
    assert done.returncode == 0, done.stderr
    assert "row 4: updated posts/week/03-luister.md (text)" in done.stdout
    assert "0 posts written, 1 post updated, 11 posts already there" in done.stderr
    assert read_post(campaign, "week/03-luister.md").content == "Luister zonder te oordelen, en zonder haast."


def test_a_post_changed_by_hand_since_the_export_is_reported_not_overwritten(campaign: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "planning.csv"
    rows = export(campaign, sheet)
    post = campaign / "posts" / "hashtagdag.md"
    post.write_text(post.read_text(encoding="utf-8").replace("Wat doe jij", "Wat doe je"), encoding="utf-8")
    by_id(rows)["hashtagdag"]["titel"] = "Hashtagdag!"
    save_as_excel_csv(rows, sheet)
    result = run_campaign(campaign, "import", str(sheet), **NOW)
    assert result.returncode == 1
    reported = [
        line for line in result.stderr.splitlines() if line.startswith("planning.csv: row 5, column versie (K)")
    ]
    assert len(reported) == 1 and "posts/hashtagdag.md was changed since this sheet was exported" in reported[0]
    assert "Wat doe je" in post.read_text(encoding="utf-8") and "Hashtagdag!" not in post.read_text(encoding="utf-8")
    # The person decides to write the row over the file: the version cell emptied.
    by_id(rows)["hashtagdag"]["versie"] = ""
    save_as_excel_csv(rows, sheet)
    forced = run_campaign(campaign, "import", str(sheet), **NOW)
    assert forced.returncode == 0, forced.stderr
    assert read_post(campaign, "hashtagdag.md")["title"] == "Hashtagdag!"


def test_a_series_member_given_another_time_is_reported(campaign: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "planning.csv"
    rows = export(campaign, sheet)
    by_id(rows)["week/02-kijk-om-je-heen"]["tijd"] = "10:00"
    save_as_excel_csv(rows, sheet)
    result = run_campaign(campaign, "import", str(sheet), **NOW)
    assert result.returncode == 1
    assert "row 3, column tijd (B): posts/week/02-kijk-om-je-heen.md takes its time from the series" in result.stderr
    assert "publish_at" not in read_post(campaign, "week/02-kijk-om-je-heen.md")


def test_a_published_post_is_never_rewritten_and_says_so_per_row(campaign: Path, tmp_path: Path) -> None:
    db = campaign / "campaign.db"  # the ledger where validate reads it: the campaign's own
    kept = run_campaign(campaign, "rehearse", "--from", "2027-11-15", "--to", "2027-11-16", "--keep", str(db))
    assert kept.returncode == 0, kept.stderr
    sheet = tmp_path / "planning.csv"
    rows = export(campaign, sheet)
    aftrap = by_id(rows)["week/01-aftrap"]
    aftrap["tekst"] = "Een andere tekst dan wat al verstuurd is."
    by_id(rows)["week/02-kijk-om-je-heen"]["titel"] = "Dag 2 (titel voor ons)"
    save_as_excel_csv(rows, sheet)
    before = (campaign / "posts" / "week" / "01-aftrap.md").read_text(encoding="utf-8")
    result = run_campaign(campaign, "import", str(sheet), **NOW)
    assert result.returncode == 1
    refused = [line for line in result.stderr.splitlines() if line.startswith("planning.csv: row 2, column tekst (D)")]
    assert len(refused) == 1 and "posts/week/01-aftrap.md was published already (on bluesky, mastodon)" in refused[0]
    assert (campaign / "posts" / "week" / "01-aftrap.md").read_text(encoding="utf-8") == before
    assert "row 3: updated posts/week/02-kijk-om-je-heen.md (title); note: published already on" in result.stdout


def formula_sheet(rows: list[list[object]]) -> Workbook:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Datum", "Tijd", "Kanalen", "Tekst", "Titel"])
    for row in rows:
        sheet.append(row)
    return book


LINK = '=HYPERLINK("https://www.veiligthuis.nl","Veilig Thuis")'


def test_a_link_formula_keeps_its_text_and_address_from_csv_and_xlsx(campaign: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "links.csv"
    sheet.write_bytes(
        (
            "Datum;Tijd;Kanalen;Tekst;Titel\r\n"
            f'15 maart 2027;9u;mastodon;"{LINK.replace(chr(34), chr(34) * 2)}";csv\r\n'
        ).encode("cp1252")
    )
    done = run_campaign(campaign, "import", str(sheet), **NOW)
    assert done.returncode == 0, done.stderr
    assert read_post(campaign, "2027-03-15-csv.md").content == "Veilig Thuis (https://www.veiligthuis.nl)"

    path = tmp_path / "links.xlsx"
    formula_sheet([["16-03-2027", "9u", "bluesky", LINK, "werkblad"]]).save(path)  # a formula, no value saved
    done = run_campaign(campaign, "import", str(path), **NOW)
    assert done.returncode == 0, done.stderr
    assert read_post(campaign, "2027-03-16-werkblad.md").content == "Veilig Thuis (https://www.veiligthuis.nl)"


def test_a_link_put_on_a_cell_keeps_its_address(campaign: Path, tmp_path: Path) -> None:
    """Excel's Insert > Link (Ctrl+K) keeps the address beside the cell, not in its value."""
    path = tmp_path / "ctrl-k.xlsx"
    book = formula_sheet([["16-03-2027", "9u", "mastodon", "Bel Veilig Thuis", "ctrl k"]])
    sheet = book.active
    assert sheet is not None
    sheet["D2"].hyperlink = "https://www.veiligthuis.nl"
    book.save(path)
    done = run_campaign(campaign, "import", str(path), **NOW)
    assert done.returncode == 0, done.stderr
    assert read_post(campaign, "2027-03-16-ctrl-k.md").content == "Bel Veilig Thuis (https://www.veiligthuis.nl)"


def with_values(path: Path, values: dict[str, str]) -> None:
    """The workbook as Excel saves it: each formula cell (by reference) with the value it showed."""
    member = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts[member].decode("utf-8")
    for ref, value in values.items():
        xml, count = re.subn(
            rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/?>(?:</v>)?',
            rf'<c r="{ref}"\1 t="str"><f>\2</f><v>{value}</v>',  # openpyxl writes a formula cell without t=
            xml,
        )
        assert count == 1, (ref, xml)
    parts[member] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_an_excel_saved_link_keeps_its_address_and_any_other_formula_is_said(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "opgeslagen.xlsx"
    formula_sheet(
        [
            ["16-03-2027", "9u", "mastodon", LINK, "link"],
            ["17-03-2027", "9u", "mastodon", '=CONCATENATE("Bel ","0800")', "som"],
            ["18-03-2027", "9u", "mastodon", '=CONCATENATE("Nog ","een")', "leeg"],
        ]
    ).save(path)
    with_values(path, {"D2": "Veilig Thuis", "D3": "Bel 0800"})  # D4 holds no value: never calculated
    result = run_campaign(campaign, "import", str(path), **NOW)
    assert result.returncode == 1
    # The link: its address is kept, not only the text Excel shows.
    assert read_post(campaign, "2027-03-16-link.md").content == "Veilig Thuis (https://www.veiligthuis.nl)"
    # Another formula with a value: imported as the sheet showed it, with a warning on its cell.
    warned = [line for line in result.stderr.splitlines() if line.startswith("opgeslagen.xlsx: row 3, column Tekst")]
    assert len(warned) == 1 and 'warning: \'=CONCATENATE("Bel ","0800")\' is a formula' in warned[0]
    assert read_post(campaign, "2027-03-17-som.md").content == "Bel 0800"
    # One without a value: refused, naming row and column and what to write instead.
    refused = [line for line in result.stderr.splitlines() if line.startswith("opgeslagen.xlsx: row 4, column Tekst")]
    assert len(refused) == 1 and "write the text itself in the cell" in refused[0]
    assert not list((campaign / "posts").glob("2027-03-18-*.md"))
    assert "2 posts written, 1 row not imported" in result.stderr


def test_a_formula_in_a_csv_file_is_refused_naming_its_cell(campaign: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "som.csv"
    sheet.write_text("datum,tijd,kanalen,tekst\n15-03-2027,9u,mastodon,=SOM(A1:A3)\n", encoding="utf-8")
    result = run_campaign(campaign, "import", str(sheet), **NOW)
    assert result.returncode == 1
    assert "som.csv: row 2, column tekst (D): '=SOM(A1:A3)' is a formula, and a CSV file holds" in result.stderr
    assert not list((campaign / "posts").glob("2027-*.md"))


def test_a_copied_row_is_not_written_twice_and_a_second_import_after_fixing_exits_0(
    campaign: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "kopie.csv"
    header = "datum;tijd;kanalen;tekst;titel\r\n"
    row = "15 maart 2027;9u;mastodon, bluesky;Bel Veilig Thuis: 0800-2000.;Veilig Thuis\r\n"
    other = "16 maart 2027;9u;mastodon;Een ander bericht.;Ander\r\n"
    sheet.write_bytes((header + row + other + row).encode("cp1252"))
    first = run_campaign(campaign, "import", str(sheet), **NOW)
    assert first.returncode == 1
    assert "kopie.csv: row 4: a copy of row 2; not imported" in first.stderr
    assert "allow_repeat" not in first.stdout + first.stderr  # never advised: it would publish it twice
    assert sorted(p.name for p in (campaign / "posts").glob("2027-*.md")) == [
        "2027-03-15-veilig-thuis.md",
        "2027-03-16-ander.md",
    ]
    sheet.write_bytes((header + row + other).encode("cp1252"))  # the copy deleted
    second = run_campaign(campaign, "import", str(sheet), **NOW)
    assert second.returncode == 0, second.stderr
    assert "0 posts written, 2 posts already there" in second.stderr


def in_folder(root: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """`campaign ARGS` run in the campaign's folder, as a person types it there."""
    env = {key: value for key, value in os.environ.items() if key not in ("CAMPAIGN_ROOT", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**env, **NOW},
        timeout=120,
        check=False,
    )


def test_the_round_trip_of_docs_spreadsheets_md_works_as_written(campaign: Path, tmp_path: Path) -> None:
    """The commands of "Edit and import back", run as they are written there, with an edit between."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### Edit and import back") :]
    block = section[section.index("```sh\n") + 6 : section.index("```", section.index("```sh\n") + 6)]
    commands = [shlex.split(line) for line in block.splitlines() if line.startswith("campaign ")]
    assert [c[:2] for c in commands] == [["campaign", "export"], ["campaign", "import"], ["campaign", "import"]]
    results = []
    for number, command in enumerate(commands):
        if number == 1:  # "open planning.csv in Excel, change texts ...; save"
            rows = list(csv.DictReader(io.StringIO((campaign / "planning.csv").read_text("utf-8-sig")), delimiter=";"))
            by_id(rows)["verhalen/02-de-buurman"]["tekst"] += " Lees het verhaal."
            save_as_excel_csv(rows, campaign / "planning.csv")
        results.append(in_folder(campaign, command[1:]))
        assert results[-1].returncode == 0, (command, results[-1].stderr)
    assert "would update posts/verhalen/02-de-buurman.md (text)" in results[1].stdout
    assert "updated posts/verhalen/02-de-buurman.md (text)" in results[2].stdout
    assert read_post(campaign, "verhalen/02-de-buurman.md").content.endswith("Lees het verhaal.")


def test_a_second_import_of_a_sheet_whose_post_has_an_error_still_says_so(campaign: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "lang.csv"
    sheet.write_text(
        "datum;tijd;kanalen;tekst;titel\n15-03-2027;9u;bluesky;" + "lang " * 80 + ";Te lang\n", encoding="utf-8"
    )
    first = run_campaign(campaign, "import", str(sheet), **NOW)
    assert first.returncode == 1 and "row 2: posts/2027-03-15-te-lang.md" in first.stderr
    again = run_campaign(campaign, "import", str(sheet), **NOW)  # nothing fixed: the row still has its problem
    assert again.returncode == 1, again.stderr
    assert "0 posts written, 1 post already there" in again.stderr
    assert "row 2: posts/2027-03-15-te-lang.md" in again.stderr and "over the limit of 300" in again.stderr
