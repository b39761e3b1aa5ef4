"""Sign-off (issue #23): a post with `signoff:` goes out only once the people it names approved exactly
what goes out; any change to that voids the approval, a comment or a moved file does not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.publish.ledger import Ledger
from scheduler.signoff.tokens import token_hash
from tests.fakes import images
from tests.fakes.webhook_server import FakeWebhook
from tests.integration.daemon_helpers import (
    CHANNELS,
    add_users,
    at,
    campaign,
    daemon,
    env_for,
    kinds,
    ledger,
    outbox,
    soon,
    states,
    stop,
    wait_for,
)

STORY = "Dit is het verhaal van een moeder die het zag."


def write_story(root: Path, when: str, body: str = STORY, extra: str = "", name: str = "verhaal") -> Path:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(CHANNELS, encoding="utf-8")
    (root / "posts" / "_defaults.yml").write_text(
        "campaign: Test\ntimezone: Europe/Amsterdam\nlanguage: nl\nchannels: [mastodon, bluesky]\n", encoding="utf-8"
    )
    for old in (root / "posts").rglob("*.md"):
        old.unlink()
    path = root / "posts" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\nid: verhaal\npublish_at: {when}\nsignoff: [verteller]\n{extra}---\n{body}\n", encoding="utf-8"
    )
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    result = campaign(tmp_path, "db", "upgrade", db=url)
    assert result.returncode == 0, result.stderr
    return url


def request_link(root: Path, person: str = "verteller", *args: str, db: str | None = None) -> str:
    made = campaign(root, "signoff", "request", "verhaal", "--for", person, *args, db=db)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1].rsplit("/", 1)[-1]


def approve(root: Path, token: str, db: str | None = None) -> None:
    """What the sign-off page does on "Akkoord": an approval of what it shows (the ledger's sends now)."""
    book = ledger(root, db)
    try:
        request = book.signoffs.by_token(token, book.clock())
        assert request is not None
        _, seen, _ = book.signoffs.current(request.post)
        book.signoffs.decide(request, "approved", seen, None, book.clock())
    finally:
        book.close()


def fingerprint(root: Path) -> str:
    book = ledger(root)
    try:
        return book.signoffs.current("verhaal")[1]
    finally:
        book.close()


def test_a_story_is_held_until_the_storyteller_approves_it_and_then_goes_out(tmp_path: Path, db: str | None) -> None:
    write_story(tmp_path, at(soon(-5)))
    first = campaign(tmp_path, "run", "--once", db=db)
    assert states(tmp_path, db) == {("verhaal", "mastodon"): "held", ("verhaal", "bluesky"): "held"}
    assert "waiting for sign-off by verteller" in first.stdout
    assert outbox(tmp_path) == []
    token = request_link(tmp_path, db=db)
    waiting = campaign(tmp_path, "signoff", "status", db=db)
    assert "waiting for sign-off by verteller since" in waiting.stdout
    # the held sends too, in the campaign's language (Dutch); the recorded reason stays English
    assert "wacht op akkoord van verteller sinds" in campaign(tmp_path, "status", db=db).stdout
    approve(tmp_path, token, db)
    campaign(tmp_path, "run", "--once", db=db)
    assert states(tmp_path, db) == {("verhaal", "mastodon"): "published", ("verhaal", "bluesky"): "published"}
    assert {item["post"] for item in outbox(tmp_path)} == {"verhaal"}
    history = campaign(tmp_path, "signoff", "history", "verhaal", db=db)
    assert "approved by verteller" in history.stdout and "link for verteller" in history.stdout


def test_an_edit_after_approval_holds_it_again_and_a_comment_or_a_move_does_not(tmp_path: Path) -> None:
    when = at(soon(-5))
    write_story(tmp_path, when)
    token = request_link(tmp_path)
    approved = fingerprint(tmp_path)
    approve(tmp_path, token)
    # A comment in the front matter and one in the text, and the file moved to another folder: the same text.
    write_story(tmp_path, when, STORY + " {# opmerking voor de redactie #}", "# nagekeken\n", name="reeks/verhaal")
    campaign(tmp_path, "signoff", "status")
    sync = campaign(tmp_path, "signoff", "request", "verhaal", "--for", "verteller")
    assert sync.returncode == 0, sync.stderr
    assert fingerprint(tmp_path) == approved
    # One word changed: held again, said why.
    write_story(tmp_path, when, STORY.replace("moeder", "vader"))
    sent = campaign(tmp_path, "run", "--once")
    assert states(tmp_path) == {("verhaal", "mastodon"): "held", ("verhaal", "bluesky"): "held"}
    assert "changed since verteller approved it" in sent.stdout
    assert outbox(tmp_path) == []
    history = campaign(tmp_path, "signoff", "history", "verhaal")
    assert "voided" in history.stdout
    # Back to the words approved: that approval counts again.
    write_story(tmp_path, when)
    campaign(tmp_path, "run", "--once")
    assert set(states(tmp_path).values()) == {"published"}


def test_a_new_photo_after_approval_holds_it_again_with_an_alert_and_so_does_new_alt_text(tmp_path: Path) -> None:
    when = at(soon(-5))
    (tmp_path / "media").mkdir()
    photo = tmp_path / "media" / "foto.png"
    images.photo(photo, (40, 30))
    media = "media:\n  - {path: media/foto.png, alt: Een keuken}\n"
    write_story(tmp_path, when, extra=media)
    approve(tmp_path, request_link(tmp_path))
    approved = fingerprint(tmp_path)
    images.photo(photo, (30, 40))  # the same name, another picture
    sent = campaign(tmp_path, "run", "--once")
    assert set(states(tmp_path).values()) == {"held"} and outbox(tmp_path) == []
    assert "changed since verteller approved it" in sent.stdout
    book = ledger(tmp_path)
    try:
        # the alert in the campaign's language (Dutch), naming the person and the command for a new link
        assert any(
            a.kind == "signoff" and "verteller" in a.message and "campaign signoff request verhaal" in a.message
            for a in book.alerts.latest()
        )
    finally:
        book.close()
    new_photo = fingerprint(tmp_path)
    write_story(tmp_path, when, extra=media.replace("Een keuken", "Een lege keuken"))
    request_link(tmp_path)  # syncs the files into the ledger
    assert len({approved, new_photo, fingerprint(tmp_path)}) == 3


def test_a_decline_holds_it_and_status_shows_the_note(tmp_path: Path) -> None:
    write_story(tmp_path, at(soon(-5)))
    token = request_link(tmp_path)
    book = ledger(tmp_path)
    try:
        request = book.signoffs.by_token(token, book.clock())
        assert request is not None
        book.signoffs.decide(request, "declined", fingerprint(tmp_path), "niet mijn naam noemen", book.clock())
    finally:
        book.close()
    campaign(tmp_path, "run", "--once")
    assert set(states(tmp_path).values()) == {"held"}
    shown = campaign(tmp_path, "signoff", "status")
    assert "declined by verteller" in shown.stdout and "niet mijn naam noemen" in shown.stdout
    assert "afgewezen door verteller" in campaign(tmp_path, "status").stdout
    book = ledger(tmp_path)
    try:
        told = [a.message for a in book.alerts.latest() if a.kind == "signoff"]
    finally:
        book.close()
    assert told and "niet mijn naam noemen" in told[0]


def test_a_revoked_or_expired_link_no_longer_works_and_only_a_hash_is_kept(tmp_path: Path) -> None:
    write_story(tmp_path, at(soon(3600)))
    token = request_link(tmp_path)
    short = request_link(tmp_path, "verteller", "--expires", "1m")
    book: Ledger = ledger(tmp_path)
    try:
        assert book.signoffs.by_token(token, book.clock()) is not None
        assert book.signoffs.by_token(short, book.clock() + timedelta(minutes=2)) is None
        stored = [r for r in (tmp_path / "campaign.db").read_bytes().split(b"\0") if token.encode() in r]
        assert stored == []
        assert token_hash(token) != token
    finally:
        book.close()
    ended = campaign(tmp_path, "signoff", "revoke", "verhaal", "--for", "verteller")
    assert "2 link(s)" in ended.stdout
    book = ledger(tmp_path)
    try:
        assert book.signoffs.by_token(token, book.clock()) is None
    finally:
        book.close()


def test_the_daemon_alerts_before_the_time_holds_at_the_time_and_sends_once_approved(tmp_path: Path) -> None:
    with FakeWebhook() as hook:
        write_story(tmp_path, at(soon(8)))
        (tmp_path / "posts" / "later.md").write_text(
            f"---\npublish_at: {at(soon(3600))}\nsignoff: [verteller]\n---\nEen ander verhaal.\n", encoding="utf-8"
        )
        token = request_link(tmp_path)
        process = daemon(tmp_path, CAMPAIGN_ALERT_WEBHOOK=hook.url)
        try:
            assert wait_for(lambda: any("later" in m for m in kinds(hook, "signoff-4h")), timeout=60)
            held = {("verhaal", "mastodon"): "held", ("verhaal", "bluesky"): "held"}
            assert wait_for(lambda: {k: v for k, v in states(tmp_path).items() if k[0] == "verhaal"} == held, 60)
            assert wait_for(lambda: bool(kinds(hook, "held")), timeout=60)
            assert "wacht op akkoord van verteller" in kinds(hook, "held")[0]  # the campaign's language
            assert outbox(tmp_path) == []
            approve(tmp_path, token)
            published = {("verhaal", "mastodon"): "published", ("verhaal", "bluesky"): "published"}
            assert wait_for(lambda: {k: v for k, v in states(tmp_path).items() if k[0] == "verhaal"} == published, 60)
        finally:
            stop(process)
        assert len(outbox(tmp_path)) == 2


def test_validate_and_preview_say_who_must_sign_off_and_where_it_stands(tmp_path: Path) -> None:
    write_story(tmp_path, at(soon(3600)))
    checked = campaign(tmp_path, "validate")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "verhaal: needs sign-off by verteller" in checked.stderr
    offline = campaign(tmp_path, "preview")
    assert "needs sign-off by verteller" in offline.stdout and "waiting" not in offline.stdout
    request_link(tmp_path)
    online = campaign(tmp_path, "preview")
    assert "needs sign-off by verteller: waiting for sign-off by verteller since" in online.stdout


def test_a_wrong_signoff_value_is_an_error_on_its_line_and_team_means_any_operator(tmp_path: Path) -> None:
    write_story(tmp_path, at(soon(3600)))
    path = tmp_path / "posts" / "verhaal.md"
    path.write_text(path.read_text(encoding="utf-8").replace("[verteller]", "42"), encoding="utf-8")
    wrong = campaign(tmp_path, "validate")
    assert wrong.returncode == 1 and "posts/verhaal.md:4: error: signoff must be a list of names" in wrong.stdout
    path.write_text(path.read_text(encoding="utf-8").replace("signoff: 42", "signoff: team"), encoding="utf-8")
    team = campaign(tmp_path, "validate")
    assert team.returncode == 0 and "verhaal: needs sign-off by any operator" in team.stderr


def test_signoff_team_is_approved_by_an_operator_and_only_an_operator_gets_a_link(tmp_path: Path) -> None:
    write_story(tmp_path, at(soon(-5)))
    path = tmp_path / "posts" / "verhaal.md"
    path.write_text(path.read_text(encoding="utf-8").replace("[verteller]", "team"), encoding="utf-8")
    users = str(tmp_path / "users")
    add_users(env_for(tmp_path, CAMPAIGN_USERS_FILE=users))
    viewer = campaign(tmp_path, "signoff", "request", "verhaal", "--for", "vera", CAMPAIGN_USERS_FILE=users)
    assert viewer.returncode == 1 and "'vera' is not an operator's account" in viewer.stderr
    made = campaign(tmp_path, "signoff", "request", "verhaal", "--for", "anna", CAMPAIGN_USERS_FILE=users)
    assert made.returncode == 0, made.stderr
    campaign(tmp_path, "run", "--once")
    assert "waiting for sign-off by an operator since" in campaign(tmp_path, "signoff", "status").stdout
    approve(tmp_path, made.stdout.strip().splitlines()[-1].rsplit("/", 1)[-1])
    campaign(tmp_path, "run", "--once")
    assert set(states(tmp_path).values()) == {"published"}
