"""Issue #17, item 8: text from a network (a reply's author, text and link, a receiver's error answer)
reaches the terminal shown, never obeyed: `campaign replies`, `status`, `history` and `run --once`
print no control character but the line break, and the JSON outputs keep the text exactly."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler.channels.base import Reply
from scheduler.publish.ledger import NewReply, Published
from tests.fakes.webhook_server import FakeWebhook
from tests.integration.daemon_helpers import campaign, ledger, write

# Clear the screen, go up a line and erase it (the WATCH LIST flag of the reply above), set the window
# title, plant a link whose text is not its address (OSC 8), ring the bell, write over the line (CR),
# a C1 CSI, and a right-to-left override that would turn the rest of the line around.
HOSTILE_AUTHOR = "\x1b[2J\x1b[H@kim\x1b[1A\x1b[2K\x07\u202e"
HOSTILE_TEXT = (
    "Bedankt!\x1b]0;campaign: all handled\x07\n"
    "\x1b]8;;https://evil.example/\x1b\\https://www.113.nl/\x1b]8;;\x1b\\\r#2 handled\n"
    "\x9b2J einde\x7f"
)
HOSTILE_URL = "https://example.nl/@kim/2\x1b]8;;https://evil.example/\x07"
HOSTILE_ANSWER = "channel_not_found\x1b[1A\x1b[2K\x1b]0;ok\x07\x9b31m\r\nHTTP/1.1 200 OK"
# What a terminal obeys: C0 (but the line break), DEL, C1, and the bidi embeddings/overrides/isolates.
OBEYED = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_what_the_public_and_a_receiver_wrote_is_shown_never_obeyed(tmp_path: Path) -> None:
    with FakeWebhook(flavor="slack") as hook:
        channels = (
            "channels:\n"
            "  mastodon: {type: dryrun, like: mastodon}\n"
            f"  hook: {{type: webhook, format: slack, url: '{hook.url}'}}\n"
        )
        due = datetime.now(UTC) - timedelta(minutes=1)
        root = write(
            tmp_path / "c", {"a": (due, "Hulp nodig? Bel 113.")}, channels=channels, default_channels="[mastodon, hook]"
        )
        hook.respond_next(404, HOSTILE_ANSWER)
        ran = campaign(root, "run", "--once")
    assert "failed" in ran.stdout and "channel_not_found" in ran.stdout, ran.stdout + ran.stderr
    assert not OBEYED.search(ran.stdout + ran.stderr), ran.stdout

    book = ledger(root)
    row = next(r for r in book.views.rows() if r.channel == "mastodon")
    published = Published(
        row.id, row.post, row.channel, row.remote_id or "", row.receipt_url, row.published_at or row.due
    )
    moment = datetime.now(UTC)
    first = Reply(
        "r-1", "@anna@example.nl", moment - timedelta(hours=2), "Ik heb hulp nodig", "https://example.nl/@anna/1"
    )
    second = Reply("r-2", HOSTILE_AUTHOR, moment - timedelta(hours=1), HOSTILE_TEXT, HOSTILE_URL)
    book.replies.record_replies(
        [(published, [NewReply(first, "mastodon", "hulp"), NewReply(second, "mastodon", None)])], moment
    )
    book.close()

    listed = campaign(root, "replies")
    assert listed.returncode == 0, listed.stderr
    assert not OBEYED.search(listed.stdout), listed.stdout
    lines = listed.stdout.splitlines()
    assert any("@anna@example.nl" in line and "WATCH LIST: 'hulp'" in line for line in lines)
    kim = next(line for line in lines if "@kim" in line)
    assert kim.startswith("#") and "(not handled)" in kim  # the author stays in its place on its line
    assert "␛[2J" in kim  # the attempt is there to see
    quoted = [line for line in lines if line.startswith("    > ")]
    assert len(quoted) == 1 + 4  # anna's line, and kim's: a carriage return starts a quoted line, it overwrites none
    assert all(line.startswith("    ") for line in lines if not line.startswith("#"))  # nothing writes over a margin

    raw_json = campaign(root, "replies", "--format", "json").stdout
    assert not OBEYED.search(raw_json)  # escaped as \u001b: the same data, nothing a terminal obeys
    exact = json.loads(raw_json)
    assert (exact[1]["author"], exact[1]["text"], exact[1]["url"]) == (HOSTILE_AUTHOR, HOSTILE_TEXT, HOSTILE_URL)

    for command in (("status",), ("history",), ("history", "a"), ("status", "--format", "json")):
        shown = campaign(root, *command)
        assert shown.returncode == 0, shown.stderr
        assert "channel_not_found" in shown.stdout, (command, shown.stdout)
        assert not OBEYED.search(shown.stdout), (command, shown.stdout)
