"""Where a post's sign-off stands, in every view (issue #23): `validate` and `preview` in every format, the
pull request's diff, `campaign status`, the dashboard and the alerts. JSON carries it as data; Markdown,
HTML, the dashboard and alerts say it in the campaign's language (Dutch here), the CLI's text in English.
Without a ledger (a pull request's CI) they say what the post needs, and once that the state is in the
ledger, never "approved" by guess. A sign-off hold is recorded in English (the ledger finds it by how it
begins) and still found: an approval releases the held send."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import images
from tests.integration.daemon_helpers import PASSWORDS, at, campaign, ledger, outbox, soon, states, wait_for
from tests.integration.test_signoff import STORY, approve, request_link, write_story
from tests.integration.test_signoff_browser import serving
from tests.integration.test_web_door import Client

ENGLISH = ("waiting for sign-off", "approved by", "changed since", "declined by", "needs sign-off", "held for sign-off")
LEDGER_NOTE = "houdt het grootboek bij"  # the Dutch of "where each sign-off stands is kept in the ledger"


def previews(root: Path) -> dict[str, str]:
    """`campaign preview` in each format, to standard output."""
    found = {}
    for fmt in ("text", "json", "markdown", "html"):
        shown = campaign(root, "preview", "--format", fmt, "-o", "-")
        assert shown.returncode == 0, shown.stderr
        found[fmt] = shown.stdout
    return found


def signoffs_of(shown: str) -> list[Any]:
    """The `signoff` of every send in a JSON preview."""
    return [send["signoff"] for send in json.loads(shown)["sends"]]


def decline(root: Path, token: str, note: str) -> None:
    """What the sign-off page does on "Niet zo: ...": a decline, with the note, of what it shows."""
    book = ledger(root)
    try:
        request = book.signoffs.by_token(token, book.clock())
        assert request is not None
        _, seen, _ = book.signoffs.current(request.post)
        book.signoffs.decide(request, "declined", seen, note, book.clock())
    finally:
        book.close()


def check(shown: dict[str, str], state: str, dutch: str, english: str, tokens: list[str]) -> list[Any]:
    """Each format says `state`: JSON as data, Markdown and HTML in Dutch (no English, no token), text in
    English. The JSON `signoff` of the sends, for the caller to look into."""
    records = signoffs_of(shown["json"])
    assert {r["state"] for r in records} == {state} and len(records) == 2, records
    assert all(r["needs"] == ["verteller"] for r in records)
    for fmt in ("markdown", "html"):
        assert shown[fmt].count(dutch) == 2, (fmt, dutch)  # a line per send (each on its channel)
        assert not any(words in shown[fmt] for words in ENGLISH), fmt
    assert shown["text"].count(f"needs sign-off by verteller: {english}") == 2, shown["text"]
    for text in shown.values():
        assert not any(token in text for token in tokens)  # a link's token is never in a view
    return records


def test_every_preview_format_shows_each_sign_off_state_and_json_has_it_as_data(tmp_path: Path) -> None:
    when = at(soon(3600))
    write_story(tmp_path, when)

    # No ledger (a pull request's CI): what it needs, and once that the state is kept in the ledger.
    shown = previews(tmp_path)
    assert signoffs_of(shown["json"]) == [{"needs": ["verteller"], "state": "unknown"}] * 2
    assert "signoff_note" in json.loads(shown["json"])
    for fmt in ("markdown", "html"):
        assert shown[fmt].count("akkoord nodig van verteller") == 2 and shown[fmt].count(LEDGER_NOTE) == 1, fmt
        assert not any(words in shown[fmt] for words in ENGLISH) and "akkoord van verteller op" not in shown[fmt]
    assert shown["text"].count("needs sign-off by verteller") == 2 and "approved" not in shown["text"]
    assert shown["text"].count("kept in the ledger") == 1

    # In the ledger, no link sent yet.
    assert campaign(tmp_path, "run", "--once").returncode == 0  # not due: the files into the ledger, nothing sent
    book = ledger(tmp_path)
    try:  # due within 4 hours and waiting: the team is told, in the campaign's language
        [told] = [a.message for a in book.alerts.latest() if a.kind == "signoff-4h"]
    finally:
        book.close()
    assert "wacht op akkoord van verteller; nog geen link gestuurd" in told and not any(w in told for w in ENGLISH)
    shown = previews(tmp_path)
    records = check(shown, "waiting", "wacht op akkoord van verteller; nog geen link gestuurd", "waiting for", [])
    assert records[0]["people"] == [{"person": "verteller", "state": "waiting", "since": None}]
    assert "signoff_note" not in json.loads(shown["json"])
    assert LEDGER_NOTE not in shown["markdown"] and "campaign signoff request verhaal --for verteller" in shown["text"]

    # Waiting since the link was made.
    first = request_link(tmp_path)
    records = check(
        previews(tmp_path),
        "waiting",
        "wacht op akkoord van verteller sinds",
        "waiting for sign-off by verteller since",
        [first],
    )
    assert records[0]["people"][0]["since"] is not None

    # Approved: by whom, when.
    approve(tmp_path, first)
    records = check(previews(tmp_path), "approved", "akkoord van verteller op", "approved by verteller on", [first])
    assert records[0]["people"][0]["person"] == "verteller" and records[0]["people"][0]["approved_at"]

    # One word changed: whose approval it voided.
    write_story(tmp_path, when, STORY.replace("moeder", "vader"))
    assert campaign(tmp_path, "run", "--once").returncode == 0
    records = check(
        previews(tmp_path), "changed", "veranderd sinds verteller op", "changed since verteller approved it on", [first]
    )
    assert records[0]["people"][0]["state"] == "changed" and records[0]["people"][0]["approved_at"]

    # Declined, with the note.
    second = request_link(tmp_path)
    decline(tmp_path, second, "noem mijn stad niet")
    shown = previews(tmp_path)
    records = check(shown, "declined", "afgewezen door verteller op", "declined by verteller on", [first, second])
    assert records[0]["people"][0]["note"] == "noem mijn stad niet"
    assert shown["markdown"].count("noem mijn stad niet") == 2 and shown["html"].count("noem mijn stad niet") == 2

    # `signoff status` says the same (English, times in the campaign's zone), and as data; `history POST` and
    # `signoff history POST` list every link made and revoked, approval, decline with its note, and void.
    status = campaign(tmp_path, "signoff", "status")
    assert "declined by verteller on" in status.stdout and "noem mijn stad niet" in status.stdout
    [record] = json.loads(campaign(tmp_path, "signoff", "status", "--format", "json").stdout)
    assert record["state"] == "declined" and record["people"][0]["note"] == "noem mijn stad niet"
    assert campaign(tmp_path, "signoff", "revoke", "verhaal").returncode == 0
    for history in (
        campaign(tmp_path, "history", "verhaal").stdout,
        campaign(tmp_path, "signoff", "history", "verhaal").stdout,
    ):
        lines = history.splitlines()
        assert sum("link for verteller made by" in line for line in lines) == 2, history
        assert sum("link for verteller revoked" in line for line in lines) == 2, history  # both still worked
        assert sum("approved by verteller" in line for line in lines) == 1, history
        assert sum("approval by verteller voided" in line for line in lines) == 1, history
        assert sum("declined by verteller" in line and "noem mijn stad niet" in line for line in lines) == 1, history


def test_validate_says_what_each_post_needs_and_the_pull_requests_diff_too_without_a_ledger(tmp_path: Path) -> None:
    write_story(tmp_path, at(soon(3600)))
    path = tmp_path / "posts" / "verhaal.md"
    path.write_text(path.read_text(encoding="utf-8").replace("[verteller]", "team"), encoding="utf-8")
    checked = campaign(tmp_path, "validate")
    assert checked.returncode == 0 and "verhaal: needs sign-off by any operator before it goes out" in checked.stderr
    assert checked.stderr.count("kept in the ledger") == 1
    notices = campaign(tmp_path, "validate", "--format", "github")
    assert "::notice file=posts/verhaal.md,title=sign-off::verhaal: needs sign-off by any operator" in notices.stdout
    markdown = campaign(tmp_path, "preview", "--format", "markdown").stdout
    assert markdown.count("akkoord nodig van een beheerder") == 2 and markdown.count(LEDGER_NOTE) == 1
    assert [r["needs"] for r in signoffs_of(campaign(tmp_path, "preview", "--format", "json").stdout)] == [["team"]] * 2
    # The pull request's diff: what this change adds or changes of a post that needs sign-off, and who must approve.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    path.write_text(path.read_text(encoding="utf-8").replace("moeder", "vader"), encoding="utf-8")
    report = campaign(tmp_path, "diff", "HEAD", "--format", "markdown")
    assert report.returncode == 0, report.stderr
    assert "#### Akkoord" in report.stdout and "akkoord nodig van een beheerder" in report.stdout
    assert "een akkoord met de oude tekst telt niet meer" in report.stdout and LEDGER_NOTE in report.stdout
    assert "⚑ needs sign-off by any operator" in campaign(tmp_path, "diff", "HEAD").stdout


def test_a_sign_off_hold_is_said_in_the_campaigns_language_and_still_found_by_its_recorded_prefix(
    tmp_path: Path,
) -> None:
    write_story(tmp_path, at(soon(-5)))
    assert campaign(tmp_path, "run", "--once").returncode == 0
    assert set(states(tmp_path).values()) == {"held"}
    book = ledger(tmp_path)
    try:  # recorded in English, by which the ledger finds it; the alert in the campaign's language
        reasons = {row.reason for row in book.views.rows()}
        told = [a.message for a in book.alerts.latest() if a.kind == "held"]
    finally:
        book.close()
    assert len(reasons) == 1 and str(next(iter(reasons))).startswith(
        "held for sign-off: waiting for sign-off by verteller"
    )
    assert told and "wacht op akkoord van verteller" in told[0] and not any(w in told[0] for w in ENGLISH)
    token = request_link(tmp_path)
    status = campaign(tmp_path, "status").stdout
    assert "tegengehouden tot er akkoord is: wacht op akkoord van verteller sinds" in status
    assert "held for sign-off" not in status
    approve(tmp_path, token)
    assert set(states(tmp_path).values()) == {"pending"}  # the approval found the holds by their prefix
    campaign(tmp_path, "run", "--once")
    assert set(states(tmp_path).values()) == {"published"} and len(outbox(tmp_path)) == 2


@pytest.mark.slow
def test_the_dashboard_says_a_sign_off_hold_in_the_campaigns_language(tmp_path: Path) -> None:
    root = tmp_path / "campaign"
    write_story(root, at(soon(-5)))
    assert campaign(root, "run", "--once").returncode == 0
    token = request_link(root)
    with serving(root, []) as url:
        client = Client(url)
        assert client.log_in("anna", PASSWORDS["anna"]).status_code == 302
        now = client.get("/").text
        post = client.get("/posts/verhaal").text
    for page in (now, post):
        assert "tegengehouden tot er akkoord is: wacht op akkoord van verteller sinds" in page
        assert token not in page
    waiting = now.split('id="signoff"', 1)[1].split("</section>", 1)[0]  # the list of posts waiting for sign-off
    assert "wacht op akkoord van verteller sinds" in waiting and "waiting for" not in waiting
    # The held send's help says what releases it: an approval, not a fixed file.
    assert "Lost zich op als het bestand klopt" not in now and now.count("met precies deze tekst akkoord ging") >= 2


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} on the page"
    return found.group(1)


@pytest.mark.slow
def test_a_new_photo_after_approval_shows_on_the_page_as_the_change_of_its_line(tmp_path: Path) -> None:
    root = tmp_path / "campaign"
    (root / "media").mkdir(parents=True)
    photo = root / "media" / "foto.png"
    images.photo(photo, (40, 30))
    write_story(root, at(soon(3600)), extra="media:\n  - {path: media/foto.png, alt: Een keuken}\n")
    with serving(root, []) as url:
        path = "/signoff/" + request_link(root)
        door = Client(url)
        page = door.get(path).text
        approved = door.post(
            path, {"csrf_token": _field(page, "csrf_token"), "seen": _field(page, "seen"), "decision": "approve"}
        )
        assert approved.status_code == 200 and 'id="changes"' not in approved.text
        old = hashlib.sha256(photo.read_bytes()).hexdigest()[:8]
        images.photo(photo, (30, 40))  # the same name, another picture
        new = hashlib.sha256(photo.read_bytes()).hexdigest()[:8]

        def changes() -> str:  # the dashboard reads the files again within 10 s; the page is rate-limited
            shown = door.get(path).text
            return shown.split('id="changes"', 1)[1].split("</section>", 1)[0] if 'id="changes"' in shown else ""

        assert wait_for(lambda: bool(changes()), timeout=90, every=4)
        shown = changes()
    assert f"<del>{old}:</del>" in shown and f"<ins>{new}:</ins>" in shown  # the photo's line, on each channel
    assert shown.count("<del>") == 2 and "Een keuken" in shown  # nothing else changed: the words stay


@pytest.mark.slow
def test_an_expired_link_shows_a_plain_page_and_its_form_sent_late_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "campaign"
    write_story(root, at(soon(-5)))
    assert campaign(root, "run", "--once").returncode == 0  # held: waiting for sign-off
    short = request_link(root, "verteller", "--expires", "1m")
    with serving(root, []) as url:
        door = Client(url)
        page = door.get("/signoff/" + short).text
        form = {"csrf_token": _field(page, "csrf_token"), "seen": _field(page, "seen"), "decision": "approve"}

        def expired() -> bool:  # asked of the ledger, not the page: the page is rate-limited
            book = ledger(root)
            try:
                return book.signoffs.by_token(short, book.clock()) is None
            finally:
                book.close()

        assert wait_for(expired, timeout=180, every=1)
        gone = door.get("/signoff/" + short)
        late = door.post("/signoff/" + short, form)  # the form of the page read while it still worked
    for answer in (gone, late):
        assert answer.status_code == 404 and "<form" not in answer.text and "<a " not in answer.text
        assert STORY not in answer.text
    book = ledger(root)
    try:
        assert book.signoffs.decisions_of("verhaal") == []
    finally:
        book.close()
    assert set(states(root).values()) == {"held"}
