"""A daemon restarted while a post is due: it sends from the ledger before it plans, only what was planned
from files that are still as they were; anything changed while it was down waits for the plan.

Each test fills the ledger with `run --once` while everything is paused (so the due post stays pending, as
if the daemon had stopped just before its time), changes the files or not, lifts the pause and starts the
real daemon."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.daemon_helpers import campaign, daemon, ledger, outbox, soon, stop, wait_for, write

ONE_CHANNEL = "channels:\n  mastodon: {type: dryrun, like: mastodon}\n"
RACY = 2.2  # seconds: a file younger than this when planned gets no fingerprint (content/cache.py RACY_NS)


def settled(root: Path) -> None:
    """Wait until every file of the campaign is old enough to be fingerprinted by a plan."""
    newest = max(max(p.stat().st_mtime, p.stat().st_ctime) for p in root.rglob("*"))
    assert wait_for(lambda: time.time() - newest > RACY, timeout=10)


def filled(root: Path, db: str | None = None) -> None:
    """The ledger holds every send, planned from the files as they are now, and nothing is sent."""
    settled(root)
    if db is not None:
        assert campaign(root, "db", "upgrade", db=db).returncode == 0
    assert campaign(root, "pause", "--reason", "onderhoud", db=db).returncode == 0
    once = campaign(root, "run", "--once", db=db)
    assert once.returncode == 0, once.stderr
    book = ledger(root, db)
    try:
        rows = book.views.rows()
        assert rows and all(r.state == "pending" and r.planned_from for r in rows), rows
    finally:
        book.close()
    assert outbox(root) == []


def restart(root: Path, sent: int, db: str | None = None, resume: bool = True) -> str:
    """Lift the pause, start the daemon, wait for `sent` sends in the outbox and for its first plan;
    its log. A post file is added in another folder meanwhile: it holds nothing that is due and
    unchanged, and its row shows that the daemon has planned."""
    if resume:
        assert campaign(root, "resume", db=db).returncode == 0
    elsewhere = root / "posts" / "elders" / "nieuw.md"
    elsewhere.parent.mkdir(exist_ok=True)
    elsewhere.write_text("---\npublish_at: 2030-01-01T10:00:00+01:00\n---\nNieuw.\n", encoding="utf-8")
    process = daemon(root, db=db)
    try:
        assert wait_for(lambda: len(outbox(root)) >= sent, timeout=60)
        assert wait_for(lambda: _planned(root, db), timeout=60)
    finally:
        err = stop(process)
    return err


def _planned(root: Path, db: str | None) -> bool:
    """The daemon's first plan went into the ledger: the post added while it was down has its row."""
    return _state(root, "elders/nieuw", db) is not None


def line_of(log: str, needle: str) -> int:
    lines = log.splitlines()
    return next(i for i, line in enumerate(lines) if needle in line)


def test_an_unchanged_due_post_goes_out_before_the_daemon_plans(tmp_path: Path) -> None:
    write(tmp_path, {"week/nu": (soon(-5), "Nu."), "elders/later": (soon(3600), "Later.")})
    filled(tmp_path)
    log = restart(tmp_path, sent=1)
    assert [(r["post"], r["text"]) for r in outbox(tmp_path)] == [("week/nu", "Nu.")]
    assert "unchanged since planned, sent before planning" in log
    assert line_of(log, "published week/nu on mastodon") < line_of(log, "sends planned; ledger")


def test_a_post_edited_while_the_daemon_was_down_goes_out_with_the_new_text(tmp_path: Path) -> None:
    due = soon(-5)
    write(tmp_path, {"week/nu": (due, "Oude tekst."), "elders/later": (soon(3600), "Later.")})
    filled(tmp_path)
    write(tmp_path, {"week/nu": (due, "Nieuwe tekst.")})  # same time, new words
    log = restart(tmp_path, sent=1)
    assert [r["text"] for r in outbox(tmp_path)] == ["Nieuwe tekst."]
    assert line_of(log, "sends planned; ledger") < line_of(log, "published week/nu on mastodon")


def test_a_post_deleted_while_the_daemon_was_down_is_never_sent(tmp_path: Path) -> None:
    write(tmp_path, {"week/weg": (soon(-5), "Weg."), "elders/later": (soon(3600), "Later.")})
    filled(tmp_path)
    (tmp_path / "posts" / "week" / "weg.md").unlink()
    assert campaign(tmp_path, "resume").returncode == 0
    process = daemon(tmp_path)
    try:
        assert wait_for(lambda: _state(tmp_path, "week/weg") == "cancelled", timeout=60)
    finally:
        stop(process)
    assert outbox(tmp_path) == []


def _state(root: Path, post: str, db: str | None = None) -> str | None:
    book = ledger(root, db)
    try:
        return next((r.state for r in book.views.rows() if r.post == post), None)
    finally:
        book.close()


@pytest.mark.parametrize(
    ("path", "before", "after", "text"),
    [
        ("hashtags.yml", "sets: {a: ['#Oud']}\ndefault: [a]\n", "sets: {a: ['#Nieuw']}\ndefault: [a]\n", "#Nieuw"),
        (
            "posts/week/_defaults.yml",
            "vars: {lijn: 0800-1111}\n",
            "vars: {lijn: 0800-2222}\n",
            "Bel 0800-2222.",
        ),
        (
            "channels.yml",
            "channels:\n  mastodon: {type: dryrun, like: mastodon}\n",
            "channels:\n  mastodon: {type: dryrun, like: bluesky}\n",
            "Bel 0800-1111.",
        ),
    ],
)
def test_a_settings_file_changed_while_down_holds_what_it_touches_until_planned(
    tmp_path: Path, path: str, before: str, after: str, text: str
) -> None:
    write(
        tmp_path,
        {"week/nu": (soon(-5), "Bel {{ vars.lijn }}."), "elders/later": (soon(3600), "L.")},
        channels=ONE_CHANNEL,
    )
    (tmp_path / "posts" / "week" / "_defaults.yml").write_text("vars: {lijn: 0800-1111}\n", encoding="utf-8")
    (tmp_path / path).write_text(before, encoding="utf-8")
    filled(tmp_path)
    (tmp_path / path).write_text(after, encoding="utf-8")
    log = restart(tmp_path, sent=1)
    [sent] = [r["text"] for r in outbox(tmp_path)]
    assert text in sent
    assert line_of(log, "sends planned; ledger") < line_of(log, "published week/nu on mastodon")


def test_a_pause_in_force_at_the_start_holds_the_send_before_the_plan_too(tmp_path: Path) -> None:
    write(tmp_path, {"week/nu": (soon(-5), "Nu."), "elders/later": (soon(3600), "Later.")})
    filled(tmp_path)  # paused, and left so
    (tmp_path / "posts" / "elders" / "nieuw.md").write_text("---\npublish_at: 2030-01-01T10:00:00+01:00\n---\nN.\n")
    process = daemon(tmp_path)
    try:
        assert wait_for(lambda: _planned(tmp_path, None), timeout=60)
        assert outbox(tmp_path) == []
        assert campaign(tmp_path, "resume").returncode == 0
        assert wait_for(lambda: len(outbox(tmp_path)) == 1, timeout=60)
    finally:
        stop(process)
    assert [r["post"] for r in outbox(tmp_path)] == ["week/nu"]


@pytest.mark.postgres
def test_an_unchanged_due_post_goes_out_before_the_plan_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    write(tmp_path, {"week/nu": (soon(-5), "Nu."), "elders/ander": (soon(-5), "Ander.")})
    filled(tmp_path, postgres_url)
    (tmp_path / "posts" / "elders" / "ander.md").write_text("---\npublish_at: 2030-01-01T10:00:00+01:00\n---\nA.\n")
    log = restart(tmp_path, sent=1, db=postgres_url)
    assert [r["post"] for r in outbox(tmp_path)] == ["week/nu"]
    assert line_of(log, "published week/nu on mastodon") < line_of(log, "sends planned; ledger")
