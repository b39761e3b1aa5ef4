"""Threads against the local X, Bluesky and Mastodon servers, through `campaign run` as a process:
each part once, in order, a reply to the one before; a daemon killed mid-thread resumes with the next
part; a refused part stops the thread and alerts."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from pathlib import Path

import pytest

from scheduler.words import translator
from tests.fakes.bluesky_server import FakePDS
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.server import Reply, Request
from tests.fakes.x_server import FakeX
from tests.integration.daemon_helpers import campaign, daemon, ledger, now, states
from tests.integration.test_x import SECRETS as X_SECRETS

PASSWORD = "app-pass-1234"
SECRETS = {**X_SECRETS, "MASTODON_TOKEN": TOKEN, "SKY_PASSWORD": PASSWORD}
STORY = "\n\n".join(
    f"Deel {i} van het verhaal. Ik was twaalf toen het begon, en niemand zag het. "
    f"Pas jaren later durfde ik erover te praten met iemand die luisterde. Dat veranderde alles voor mij."
    for i in range(1, 6)
)


def write_story(root: Path, channels: str, default_channels: str) -> None:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(channels, encoding="utf-8")
    (root / "posts" / "_defaults.yml").write_text(
        f"campaign: Test\ntimezone: Europe/Amsterdam\nchannels: {default_channels}\nthread: true\n"
        'hashtags: ["#DoorbreekDeStilte"]\n',
        encoding="utf-8",
    )
    due = now().strftime("%Y-%m-%dT%H:%M:%S+00:00")
    (root / "posts" / "verhaal.md").write_text(f"---\npublish_at: {due}\n---\n{STORY}\n", encoding="utf-8")


def x_channel(server: FakeX) -> str:
    return (
        f"  x: {{type: x, api: '{server.url}', consumer_key: '${{X_CONSUMER_KEY}}',"
        " consumer_secret: '${X_CONSUMER_SECRET}', access_token: '${X_ACCESS_TOKEN}',"
        " access_token_secret: '${X_ACCESS_TOKEN_SECRET}'}\n"
    )


def masto_channel(server: FakeMastodon) -> str:
    return f"  masto: {{type: mastodon, instance: '{server.url}', token: '${{MASTODON_TOKEN}}'}}\n"


def sky_channel(server: FakePDS) -> str:
    return f"  sky: {{type: bluesky, pds: '{server.url}', handle: campagne.test, app_password: '${{SKY_PASSWORD}}'}}\n"


def planned_parts(root: Path, channel: str) -> list[str]:
    result = campaign(root, "preview", "--format", "json", env=SECRETS)
    [send] = [s for s in json.loads(result.stdout)["sends"] if s["channel"] == channel]
    return list(send["parts"])


def deliveries(root: Path) -> dict[str, dict[str, object]]:
    status = json.loads(campaign(root, "status", "--format", "json", env=SECRETS).stdout)
    return {d["channel"]: d for d in status["deliveries"]}


def test_a_thread_goes_out_on_x_bluesky_and_mastodon_each_part_replying_to_the_one_before(tmp_path: Path) -> None:
    with FakeX() as x, FakePDS(password=PASSWORD) as sky, FakeMastodon() as masto:
        channels = "channels:\n" + x_channel(x) + sky_channel(sky) + masto_channel(masto)
        write_story(tmp_path, channels, "[x, sky, masto]")
        parts = {name: planned_parts(tmp_path, name) for name in ("x", "sky", "masto")}
        assert all(len(p) >= 2 for p in parts.values())
        run = campaign(tmp_path, "run", "--once", env=SECRETS)
        assert run.returncode == 0, run.stderr

        assert [p["sent_text"] for p in x.posts] == parts["x"]
        assert [p["reply_to"] for p in x.posts] == [None, *(p["id"] for p in x.posts[:-1])]

        assert [s["text"] for s in masto.statuses] == parts["masto"]
        assert [s["in_reply_to_id"] for s in masto.statuses] == [None, *(s["id"] for s in masto.statuses[:-1])]

        records = [next(r for r in sky.records.values() if r["value"]["text"] == text) for text in parts["sky"]]
        assert "reply" not in records[0]["value"]
        root = {"uri": records[0]["uri"], "cid": records[0]["cid"]}
        for parent, record in itertools.pairwise(records):
            assert record["value"]["reply"] == {"root": root, "parent": {"uri": parent["uri"], "cid": parent["cid"]}}

        assert "#DoorbreekDeStilte" in parts["x"][0] and not any("#DoorbreekDeStilte" in p for p in parts["x"][1:])
    done = deliveries(tmp_path)
    assert {name: d["state"] for name, d in done.items()} == {
        "x": "published",
        "sky": "published",
        "masto": "published",
    }
    assert done["x"]["url"] == f"https://x.com/weektegenkm/status/{x.posts[0]['id']}"  # the first part's
    assert done["masto"]["url"] == masto.statuses[0]["url"]


class KillingX(FakeX):
    """Commits the `at`-th post, then kills the daemon before it hears the answer."""

    victim: int | None = None
    at = 2

    def handle(self, request: Request) -> Reply:
        reply = super().handle(request)
        posting = (request.method, request.path) == ("POST", "/2/tweets")
        if self.victim is not None and posting and len(self.posts) == self.at:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
            time.sleep(0.5)
        return reply


def test_a_daemon_killed_mid_thread_resumes_with_the_next_part_and_each_part_is_out_once(tmp_path: Path) -> None:
    with KillingX() as x:
        write_story(tmp_path, "channels:\n" + x_channel(x), "[x]")
        parts = planned_parts(tmp_path, "x")
        assert len(parts) >= 3
        process = daemon(tmp_path, "--once", **SECRETS)
        x.victim = process.pid
        process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert [p["sent_text"] for p in x.posts] == parts[:2]
        assert states(tmp_path)[("verhaal", "x")] == "sending"

        for _ in range(2):  # the first settles part 2 by lookup and sends the rest
            after = campaign(tmp_path, "run", "--once", env=SECRETS)
            assert after.returncode == 0, after.stderr
        assert [p["sent_text"] for p in x.posts] == parts  # each part exactly once, in order
        assert [p["reply_to"] for p in x.posts] == [None, *(p["id"] for p in x.posts[:-1])]
    assert states(tmp_path)[("verhaal", "x")] == "published"
    assert "found on the network" in campaign(tmp_path, "history", "verhaal", env=SECRETS).stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_fault_after_a_mastodon_part_left_resends_it_with_its_key_and_never_twice(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    db = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    with FakeMastodon() as masto:
        write_story(tmp_path, "channels:\n" + masto_channel(masto), "[masto]")
        parts = planned_parts(tmp_path, "masto")
        assert len(parts) >= 3
        assert campaign(tmp_path, "db", "upgrade", db=db).returncode == 0
        crashed = campaign(tmp_path, "run", "--once", db=db, env={**SECRETS, "CAMPAIGN_FAULT": "after-part-2"})
        assert crashed.returncode == -signal.SIGKILL
        assert len(masto.statuses) == 2
        resumed = campaign(tmp_path, "run", "--once", db=db, env=SECRETS)
        assert resumed.returncode == 0, resumed.stderr
        assert [s["text"] for s in masto.statuses] == parts
        keys = [r.headers.get("idempotency-key") for r in masto.requests if r.path == "/api/v1/statuses"]
        assert len(keys) == len(parts) + 1 and keys[1] == keys[2]  # part 2 again, with its own key
    assert states(tmp_path, db)[("verhaal", "masto")] == "published"


class RefusingSecond(FakeMastodon):
    """Refuses the second status it is sent, as Mastodon refuses an invalid one."""

    def handle(self, request: Request) -> Reply:
        if (request.method, request.path) == ("POST", "/api/v1/statuses") and len(self.statuses) == 1:
            return Reply(422, {"error": "Validation failed: Text is not allowed here"})
        return super().handle(request)


def test_a_refused_part_stops_the_thread_and_alerts_naming_the_parts_out(tmp_path: Path) -> None:
    with RefusingSecond() as masto:
        write_story(tmp_path, "channels:\n" + masto_channel(masto), "[masto]")
        run = campaign(tmp_path, "run", "--once", env=SECRETS)
        assert run.returncode == 0, run.stderr
        assert len(masto.statuses) == 1  # nothing after the refused part
    assert states(tmp_path)[("verhaal", "masto")] == "failed"
    book = ledger(tmp_path)
    [alert] = book.alerts.latest()
    book.close()
    assert alert.kind == "failed"
    refused = translator("nl").gettext("part {number}/{total} was refused, so the thread stops: {reason}{parts}")
    assert refused.split("{total}")[0].format(number=2) in alert.message  # in the campaign's language (Dutch)
    assert str(masto.statuses[0]["url"]) in alert.message
    told = campaign(tmp_path, "history", "verhaal", env=SECRETS).stdout
    assert "part 1  key=" in told and str(masto.statuses[0]["url"]) in told  # the part that is out, with its link
    assert "part 2/3 was refused" in told  # the attempt that stopped the thread


@pytest.mark.parametrize("fault", ["before-part-2", "after-part-2"])
def test_a_bluesky_thread_interrupted_at_part_two_resumes_replying_to_the_recorded_parts(
    tmp_path: Path, fault: str
) -> None:
    with FakePDS(password=PASSWORD) as sky:
        write_story(tmp_path, "channels:\n" + sky_channel(sky), "[sky]")
        parts = planned_parts(tmp_path, "sky")
        assert len(parts) >= 3
        crashed = campaign(tmp_path, "run", "--once", env={**SECRETS, "CAMPAIGN_FAULT": fault})
        assert crashed.returncode == -signal.SIGKILL
        assert len(sky.records) == (1 if fault == "before-part-2" else 2)
        resumed = campaign(tmp_path, "run", "--once", env=SECRETS)
        assert resumed.returncode == 0, resumed.stderr
        records = [r for r in sky.records.values()]
        assert sorted(r["value"]["text"] for r in records) == sorted(parts)  # each part once
        by_text = {r["value"]["text"]: r for r in records}
        ordered = [by_text[text] for text in parts]
        root = {"uri": ordered[0]["uri"], "cid": ordered[0]["cid"]}
        for parent, record in itertools.pairwise(ordered):
            assert record["value"]["reply"] == {"root": root, "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
    assert states(tmp_path)[("verhaal", "sky")] == "published"


def test_an_x_part_that_may_have_left_and_is_not_found_is_in_doubt_and_never_resent(tmp_path: Path) -> None:
    with FakeX() as x:
        write_story(tmp_path, "channels:\n" + x_channel(x), "[x]")
        crashed = campaign(tmp_path, "run", "--once", env={**SECRETS, "CAMPAIGN_FAULT": "before-part-2"})
        assert crashed.returncode == -signal.SIGKILL
        for _ in range(2):
            after = campaign(tmp_path, "run", "--once", env=SECRETS)
            assert after.returncode == 0, after.stderr
        assert len(x.posts) == 1  # X has no idempotency key: part 2 is never sent blindly
    assert states(tmp_path)[("verhaal", "x")] == "in_doubt"
    book = ledger(tmp_path)
    [alert] = book.alerts.latest()
    book.close()
    assert alert.kind == "in_doubt" and "part 2/" in alert.message and "parts out: 1" in alert.message
