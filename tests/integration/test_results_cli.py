"""`campaign rehearse --keep`, `report` in every format, and `replies` (list, handle, purge) as a user
runs them; the report's HTML in headless Chromium (charts drawn, no console messages)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.channels.base import Reply
from scheduler.publish.ledger import Ledger, NewReply, Published
from scheduler.results.formats import COLUMNS
from tests.integration.test_html_browser import browse, chromium, console  # noqa: F401 - the fixture
from tests.integration.test_web_browser import (  # noqa: F401 - the fixtures
    DESKTOP,
    PHONE,
    _viewport,
    browser,
    browser_paths,
    no_sideways_scroll,
    save_screenshots,
)

REPO = Path(__file__).resolve().parents[2]


def campaign(*args: str, db: Path | None = None, root: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_") and k != "DATABASE_URL"}
    if db is not None:
        env["DATABASE_URL"] = f"sqlite:///{db}"
    env["CAMPAIGN_USER"] = "anna"
    command = [sys.executable, "-m", "scheduler", "--root", str(root), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample campaign's week rehearsed, its ledger kept with made-up counts at every age."""
    db = tmp_path_factory.mktemp("rehearsed") / "week.db"
    done = campaign("rehearse", "--from", "2027-11-14", "--to", "2027-11-21", "--keep", str(db))
    assert done.returncode == 0, done.stderr
    assert "snapshots of made-up counts kept" in done.stderr
    return db


def test_the_csv_has_the_documented_columns_one_row_per_send_and_age(rehearsed: Path) -> None:
    done = campaign("report", "--format", "csv", db=rehearsed)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert tuple(rows[0]) == COLUMNS
    sends = {(r["post"], r["channel"]) for r in rows}
    assert len(rows) == 4 * len(sends)  # 1 hour, 1 day, 7 days, 30 days
    assert {r["age"] for r in rows} == {"1 hour", "1 day", "1 week", "1 month"}
    first = next(r for r in rows if r["post"] == "week/01-aftrap" and r["channel"] == "mastodon")
    assert first["published_at"].startswith("2027-11-15T") and first["published_at"].endswith("+01:00")
    assert "#WeekTegenKindermishandeling" in first["hashtags"].split()
    assert first["views"] == ""  # not counted, so empty, never 0
    assert int(first["engagement"]) == sum(int(first[k]) for k in ("likes", "reposts", "replies", "quotes"))


def test_the_json_and_markdown_reports_group_per_day_channel_series_and_hashtag(rehearsed: Path) -> None:
    data = json.loads(
        campaign("report", "--format", "json", "--from", "2027-11-15", "--to", "2027-11-15", db=rehearsed).stdout
    )
    assert [d["name"] for d in data["by_day"]] == ["2027-11-15"]
    assert {c["name"] for c in data["by_channel"]} == {"mastodon", "bluesky", "facebook"}
    assert "tips" in {s["name"] for s in data["by_series"]}
    assert "#WeekTegenKindermishandeling" in {h["name"] for h in data["by_hashtag"]}
    assert set(data["by_day"][0]["at"]) == {"1 hour", "1 day", "1 week", "1 month"}
    markdown = campaign("report", db=rehearsed).stdout
    assert markdown.startswith("## Week tegen Kindermishandeling 2027: terugblik")
    for heading in ("### Per dag", "### Per kanaal", "### Per reeks", "### Per hashtag"):
        assert heading in markdown


def test_a_network_without_counts_says_so_instead_of_showing_zeros(tmp_path: Path, rehearsed: Path) -> None:
    copy = tmp_path / "week.db"
    shutil.copyfile(rehearsed, copy)
    book = Ledger(f"sqlite:///{copy}")
    with book.engine.begin() as conn:  # as if facebook had been a webhook all along: no snapshots
        conn.exec_driver_sql(
            "DELETE FROM snapshots WHERE delivery_id IN (SELECT id FROM deliveries WHERE channel = 'facebook')"
        )
    book.close()
    rows = list(csv.DictReader(io.StringIO(campaign("report", "--format", "csv", db=copy).stdout)))
    facebook = [r for r in rows if r["channel"] == "facebook"]
    assert facebook and all(r["note"] == "no counts on this network" and r["likes"] == "" for r in facebook)
    assert "Geen cijfers op deze kanalen (hun netwerk telt niets): facebook" in campaign("report", db=copy).stdout


def test_replies_are_listed_handled_with_who_and_when_and_purged(tmp_path: Path, rehearsed: Path) -> None:
    db = tmp_path / "week.db"
    shutil.copyfile(rehearsed, db)
    book = Ledger(f"sqlite:///{db}")
    row = book.views.rows()[0]
    published = Published(
        row.id, row.post, row.channel, row.remote_id or "", row.receipt_url, row.published_at or row.due
    )
    now = datetime.now(UTC)
    old = Reply("r-old", "@oud@example.nl", now - timedelta(days=100), "Lang geleden.", "https://example.nl/@oud/1")
    new = Reply(
        "r-new",
        "@kim@example.nl",
        now - timedelta(days=1),
        "Help, ik durf het niet te zeggen",
        "https://example.nl/@kim/2",
    )
    kept = book.replies.record_replies(
        [(published, [NewReply(old, "mastodon", None), NewReply(new, "mastodon", "help")])], now
    )
    book.replies.alert_reply(kept[0], "reply #1 matches the watch list", now, unsent=False)
    book.close()

    listed = json.loads(campaign("replies", "--format", "json", db=db).stdout)
    assert [(r["author"], r["text"], r["watch"]) for r in listed] == [
        ("@oud@example.nl", "Lang geleden.", None),
        ("@kim@example.nl", "Help, ik durf het niet te zeggen", "help"),
    ]
    status = campaign("status", db=db).stdout
    assert "replies not handled: 2, 1 matching the watch list" in status
    kim = listed[1]["id"]
    done = campaign("replies", "handle", str(kim), "--note", "beantwoord met de hulplijnen", db=db)
    assert done.returncode == 0 and f"#{kim} handled by anna@" in done.stdout
    again = campaign("replies", "handle", str(kim), db=db)
    assert "already handled by anna@" in again.stdout
    missing = campaign("replies", "handle", "999", db=db)
    assert missing.returncode == 1 and "no reply #999" in missing.stderr
    unhandled = json.loads(campaign("replies", "--unhandled", "--format", "json", db=db).stdout)
    assert [r["author"] for r in unhandled] == ["@oud@example.nl"]
    text = campaign("replies", db=db).stdout
    assert "WATCH LIST: 'help'" in text and "note: beantwoord met de hulplijnen" in text

    purged = campaign("replies", "purge", "--older-than", "90d", db=db)
    assert purged.stdout.splitlines() == [
        "deleted 1 reply written more than 90d ago, 1 of them never handled",
        "deleted 1 watch-list alert about them",
    ]
    assert [r["author"] for r in json.loads(campaign("replies", "--format", "json", db=db).stdout)] == [
        "@kim@example.nl"
    ]


def test_the_html_report_draws_its_charts_without_console_messages(
    chromium: str,  # noqa: F811 - the fixture
    rehearsed: Path,
    tmp_path: Path,
) -> None:
    page = tmp_path / "report.html"
    done = campaign("report", "--format", "html", "--to", "2027-11-21", "-o", str(page), db=rehearsed)
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    result = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert '<html lang="nl">' in dom
    for chart in ("chart-days", "chart-channels"):
        bars = re.search(rf'<svg class="chart" id="{chart}".*?</svg>', dom, re.S)
        assert bars is not None
        widths = [float(w) for w in re.findall(r'<rect class="bar"[^>]* width="([\d.]+)"', bars.group(0))]
        assert widths and max(widths) > 100  # drawn, the largest bar across most of the chart
    assert "Interacties per dag" in dom and "ma 15 nov 2027" in dom
    assert console(result) == []

    shot = tmp_path / "report.png"
    result = browse(chromium, page, tmp_path / "profile2", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000  # docs/ gets the next test's screenshots


def test_the_html_report_reads_on_a_phone_and_on_a_desktop(browser: Any, rehearsed: Path, tmp_path: Path) -> None:  # noqa: F811
    page = tmp_path / "report.html"
    done = campaign("report", "--format", "html", "--to", "2027-11-21", "-o", str(page), db=rehearsed)
    assert done.returncode == 0, done.stderr
    shots = {}
    for width, height, suffix in (DESKTOP, PHONE):
        _viewport(browser, width, height)
        browser.get(page.as_uri())
        assert no_sideways_scroll(browser), f"the report scrolls sideways at {width} px"
        # The charts scale to the screen; their words stay readable (at least 12 px high).
        smallest = browser.execute_script(
            "return Math.min(...Array.from(document.querySelectorAll('svg.chart text'))"
            ".map(t => t.getBoundingClientRect().height))"
        )
        assert smallest >= 12, f"chart text {smallest:.1f} px high at {width} px"
        shots["report-phone.png" if suffix else "report-screenshot.png"] = browser.get_screenshot_as_png()
    save_screenshots(shots, tmp_path)
