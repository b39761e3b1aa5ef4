"""Issue #16, item 2: a post goes out on all its channels or on none. A text too long for Bluesky
and X is not published on Facebook and Mastodon alone; one alert for the post names the fix."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from tests.integration.daemon_helpers import at, campaign, ledger, now, outbox, states, write

FOUR = (
    "channels:\n"
    "  bluesky: {type: dryrun, like: bluesky}\n"
    "  x: {type: dryrun, like: x}\n"
    "  facebook: {type: dryrun, like: facebook}\n"
    "  mastodon: {type: dryrun, like: mastodon}\n"
)
LONG = ("Praat erover met iemand die je vertrouwt. " * 8).strip()  # 335 characters: over 300 and 280, under 500


def _alerts(root: Path) -> list[tuple[str, str | None, str | None, str]]:
    book = ledger(root)
    try:
        return [(a.kind, a.post, a.channel, a.message) for a in book.alerts.latest()]
    finally:
        book.close()


def test_a_text_too_long_for_two_networks_goes_out_on_none_with_one_alert_naming_the_fix(tmp_path: Path) -> None:
    assert 300 < len(LONG) < 500
    due = now() - timedelta(minutes=1)
    write(
        tmp_path,
        {"lang": (due, LONG), "kort": (due, "Kort en goed.")},
        channels=FOUR,
        default_channels="[bluesky, x, facebook, mastodon]",
    )

    checked = campaign(tmp_path, "validate")
    assert checked.returncode == 1
    errors = [line for line in checked.stdout.splitlines() if ": error: " in line]
    assert [e.split(": error: ")[1].split(":")[0] for e in errors] == ["bluesky", "x"]
    for line in errors:
        assert line.startswith("posts/lang.md:4: error: ")
        assert "the whole post is held, on all its channels" in line
        assert "set `thread: true`, or write an `overrides:` text for" in line

    preview = json.loads(campaign(tmp_path, "preview", "--format", "json").stdout)
    facebook = next(s for s in preview["sends"] if (s["post"], s["channel"]) == ("lang", "facebook"))
    assert any("bluesky: text is 335 graphemes" in p for p in facebook["problems"])  # the preview shows it held too

    result = campaign(tmp_path, "run", "--once")
    assert [r["post"] for r in outbox(tmp_path)] == ["kort"] * 4  # nothing of `lang`, not on Facebook either
    got = states(tmp_path)
    assert {c: got[("lang", c)] for c in ("bluesky", "x", "facebook", "mastodon")} == dict.fromkeys(
        ("bluesky", "x", "facebook", "mastodon"), "held"
    )

    book = ledger(tmp_path)
    try:
        reasons = {r.channel: r.reason or "" for r in book.views.rows() if r.post == "lang"}
    finally:
        book.close()
    for channel in ("facebook", "mastodon"):  # the held state names the real cause, not a vague "held"
        # in the campaign's language (Dutch): the numbers are the cause
        assert re.search(r"bluesky: \w+ is 335 \w+, .* 300", reasons[channel]), reasons[channel]
        assert re.search(r"x: \w+ is 335 .* 280", reasons[channel]), reasons[channel]

    held = [a for a in _alerts(tmp_path) if a[0] == "held"]
    assert len(held) == 1, held  # one alert for the post, not one per channel
    _kind, about, on, message = held[0]
    assert about == "lang" and on is None  # the post's channels are in the message
    # a Dutch campaign (the default language): its alerts are Dutch
    assert "niet verstuurd op bluesky, facebook, mastodon en x" in message and "`thread: true`" in message
    assert result.stderr.count("ALERT held") == 1

    status = campaign(tmp_path, "status").stdout
    assert "335" in status and "300" in status

    # Fixed with a thread: every channel goes out, Bluesky and X as threads.
    (tmp_path / "posts" / "lang.md").write_text(f"---\npublish_at: {at(due)}\nthread: true\n---\n{LONG}\n", "utf-8")
    assert campaign(tmp_path, "run", "--once").returncode == 0
    sent = {r["channel"] for r in outbox(tmp_path) if r["post"] == "lang"}
    assert sent == {"bluesky", "x", "facebook", "mastodon"}


def test_a_post_already_out_on_some_channels_stays_published_when_edited_too_long(tmp_path: Path) -> None:
    due = now() - timedelta(minutes=1)
    write(tmp_path, {"tip": (due, "Kort.")}, channels=FOUR, default_channels="[facebook, mastodon]")
    assert campaign(tmp_path, "run", "--once").returncode == 0
    defaults = tmp_path / "posts" / "_defaults.yml"  # now also on Bluesky, and too long for it
    defaults.write_text(defaults.read_text("utf-8").replace("[facebook, mastodon]", "[facebook, mastodon, bluesky]"))
    (tmp_path / "posts" / "tip.md").write_text(f"---\npublish_at: {at(due)}\n---\n{LONG}\n", "utf-8")
    campaign(tmp_path, "run", "--once")
    assert states(tmp_path) == {("tip", "facebook"): "published", ("tip", "mastodon"): "published",
                                ("tip", "bluesky"): "held"}  # fmt: skip
    assert [r["channel"] for r in outbox(tmp_path)] == ["facebook", "mastodon"]  # no second, longer copy


def test_a_paused_channel_does_not_hold_the_others(tmp_path: Path) -> None:
    due = now() - timedelta(minutes=1)
    write(tmp_path, {"tip": (due, "Kort.")}, channels=FOUR, default_channels="[bluesky, facebook]")
    assert campaign(tmp_path, "pause", "--channel", "bluesky", "--reason", "test").returncode == 0
    assert campaign(tmp_path, "run", "--once").returncode == 0
    assert [r["channel"] for r in outbox(tmp_path)] == ["facebook"]
