"""Issue #17, item 9: a campaign name with a line break is a `validate` error on its line, and no text
from the files (name, title, post text) reaches a line of the calendar unescaped: not in
`campaign export --format ics` (also under `python -O`, where the calendar library's own check, an
`assert`, is left out), and not in the dashboard's calendar feed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from scheduler.publish.ledger import Ledger
from scheduler.web import feed
from scheduler.web.app import create_app
from scheduler.web.site import Site
from scheduler.web.users import Role, User, Users, hash_password
from tests.builders import run_campaign, write_campaign

NAME = r'"Week\r\nX-INJECTED-NAME:1\r\nBEGIN:VEVENT\nSUMMARY:nep"'  # YAML's double quotes: real CR and LF
POST = (
    '---\npublish_at: "{when}"\ntitle: "Dag\\r\\nX-INJECTED-TITLE:1"\nchannels: [mastodon]\n---\n'
    "Eerste regel\rX-INJECTED-TEXT:1\n\x1b]0;titel\x07 tweede regel\n"
)
# A content line as RFC 5545 has it: NAME[;PARAM=...]:value, or a folded line going on (a space first).
CONTENT_LINE = re.compile(r"^(?:[A-Z][A-Z0-9-]*(?:;[^\r\n]*)?:[^\r\n]*| [^\r\n]*)$")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    when = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:00+00:00")
    defaults = f"timezone: Europe/Amsterdam\ncampaign: {NAME}\nlanguage: nl\nchannels: [mastodon]\n"
    return write_campaign(tmp_path / "campagne", {"dag.md": POST.format(when=when)}, defaults=defaults)


def check_calendar(data: bytes) -> None:
    text = data.decode("utf-8")
    assert text.endswith("\r\n")
    lines = text[:-2].split("\r\n")
    assert all(CONTENT_LINE.match(line) for line in lines), [line for line in lines if not CONTENT_LINE.match(line)]
    assert not [line for line in lines if line.startswith("X-INJECTED")]
    assert "\x1b" not in text and "\x07" not in text
    calendar = Calendar.from_ical(data)
    assert str(calendar["x-wr-calname"]) == "Week X-INJECTED-NAME:1 BEGIN:VEVENT SUMMARY:nep"
    (event,) = calendar.walk("VEVENT")
    assert str(event["summary"]).endswith("Dag\nX-INJECTED-TITLE:1 · mastodon")  # a text, as written
    assert "Eerste regel\nX-INJECTED-TEXT:1\n␛]0;titel␇ tweede regel" in str(event["description"])


def test_a_campaign_name_with_a_line_break_is_an_error_on_its_line(root: Path) -> None:
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    assert "posts/_defaults.yml:2: error: the campaign name" in result.stdout
    assert "write it on one line" in result.stdout


@pytest.mark.parametrize("optimised", [False, True], ids=["python", "python -O"])
def test_export_ics_writes_every_text_escaped(root: Path, tmp_path: Path, optimised: bool) -> None:
    out = tmp_path / "campagne.ics"
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGN_ROOT", "DATABASE_URL")}
    command = [sys.executable, *(["-O"] if optimised else []), "-m", "scheduler", "--root", str(root)]
    result = subprocess.run(
        [*command, "export", "--format", "ics", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    check_calendar(out.read_bytes())


def test_the_calendar_feed_serves_the_same_escaped_calendar(root: Path, tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    users = Users(tmp_path / "users")
    users.save({"anna": User("anna", Role.VIEWER, hash_password("anna's long password"))})
    app = create_app(Site(root, ledger, users), "s" * 40, trust_proxy=True)
    account = users.get("anna")
    assert account is not None
    with app.test_request_context():
        secret = feed.token(account)
    answer = app.test_client().get(f"/feed/anna/{secret}.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    check_calendar(answer.get_data())
    ledger.close()
