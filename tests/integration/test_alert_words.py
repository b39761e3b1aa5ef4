"""What the team reads when something goes wrong is in the campaign's language: the alerts the daemon sends to
the webhook (a post that cannot be planned, the same post held at its time, a send the network refused), the
reasons on the dashboard's Now page, and a failed send's reason on its post page as a sentence, not the
network's JSON. The daemon is the real process, Mastodon and the webhook are real local HTTP servers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime

from scheduler.publish.ledger import Ledger
from scheduler.web.app import create_app
from scheduler.web.site import Site
from scheduler.web.users import Role, User, Users, hash_password
from scheduler.words import translator
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.server import Reply, Request
from tests.fakes.webhook_server import FakeWebhook
from tests.integration.daemon_helpers import at, daemon, soon, states, stop, wait_for, write

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PASSWORD = "anna's long password"
REFUSAL = "Validation failed: Text is not allowed here"


class Refusing(FakeMastodon):
    """Refuses every status with Mastodon's JSON answer, as it refuses an invalid one."""

    def handle(self, request: Request) -> Reply:
        if (request.method, request.path) == ("POST", "/api/v1/statuses"):
            return Reply(422, {"error": REFUSAL})
        return super().handle(request)


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as received:
        yield received


def alerts(hook: FakeWebhook, kind: str) -> list[dict[str, Any]]:
    return [r.json() for r in hook.posted if r.json()["kind"] == kind]


def before(message: str, placeholder: str, **values: str) -> str:
    """What a translated message says before `placeholder`, its earlier values filled in."""
    return message.split("{" + placeholder + "}")[0].format(**values)


def logged_in(root: Path, tmp_path: Path) -> tuple[Any, Ledger]:
    users = tmp_path / "users"
    Users(users).save({"anna": User("anna", Role.OPERATOR, hash_password(PASSWORD))})
    book = Ledger(f"sqlite:///{root / 'campaign.db'}")
    client = create_app(Site(root, book, Users(users)), "s" * 40).test_client()
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert found
    client.post("/login", data={"username": "anna", "password": PASSWORD, "csrf_token": found.group(1)})
    return client, book


def reasons_in(page: str) -> list[str]:
    """The text of each reason a page shows (the summary and, folded, the reason as recorded)."""
    return [re.sub(r"<[^>]+>", " ", span) for span in re.findall(r'<span class="reason">(.*?)</span>', page, re.S)]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_alerts_and_the_reasons_people_read_are_in_the_campaigns_language(
    tmp_path: Path, hook: FakeWebhook, language: str
) -> None:
    words = translator(language)
    root = tmp_path / "campaign"
    with Refusing() as masto:
        channels = (
            "channels:\n"
            f"  masto: {{type: mastodon, instance: '{masto.url}', token: '${{MASTODON_TOKEN}}'}}\n"
            f"alerts: {{webhook: '{hook.url}'}}\n"
        )
        due = soon(8).replace(microsecond=0)
        write(
            root,
            {"geweigerd": (due, "Geweigerd.")},
            channels=channels,
            default_channels="[masto]",
            extra_defaults=f"language: {language}\n",
        )
        # A key misspelt: it cannot be planned (told at once) and is held at its time (told again then).
        (root / "posts" / "kapot.md").write_text(f"---\npublish_at: {at(due)}\nchanels: [masto]\n---\nKapot.\n")
        process = daemon(root, MASTODON_TOKEN=TOKEN)
        try:
            assert wait_for(lambda: len(alerts(hook, "unplanned")) == 1)
            assert wait_for(lambda: len(alerts(hook, "held")) == 1 and len(alerts(hook, "failed")) == 1, timeout=60)
        finally:
            err = stop(process)
    assert states(root)[("geweigerd", "masto")] == "failed"
    # The log stays English, whatever the campaign's language.
    assert "ALERT unplanned: posts/kapot.md cannot be planned, so it is not sent: posts/kapot.md:3: error: " in err
    assert "ALERT failed: geweigerd on masto: refused by the network, so it is not sent: " in err

    [unplanned] = alerts(hook, "unplanned")
    said = words.gettext(
        "{path} cannot be planned, so it is not sent: {why}; it is held at {when} on {channels}; "
        "fixed before then, it goes out at its time"
    )
    assert unplanned["message"].startswith(before(said, "why", path="posts/kapot.md"))
    assert "posts/kapot.md:3: " in unplanned["message"]
    # The time as people read it in that language, in the campaign's zone; not ISO.
    assert format_datetime(due.astimezone(AMSTERDAM), "EEE d MMM y HH:mm", locale=language) in unplanned["message"]
    assert due.astimezone(AMSTERDAM).strftime("%Y-%m-%d") not in unplanned["message"]

    [held] = alerts(hook, "held")
    assert (held["post"], held["channel"]) == ("kapot", "masto")
    came = words.gettext("its time has come but it is not sent: {reasons}")
    until = words.gettext("held until fixed: {problems}")
    assert held["message"].startswith(before(came, "reasons") + before(until, "problems") + "posts/kapot.md:3: ")
    on = before(words.gettext("{post} on {channel}: {message}"), "message", post="kapot", channel="masto")
    assert held["text"] == f"campaign-scheduler held: {on}{held['message']}"

    [failed] = alerts(hook, "failed")
    refused = words.gettext("refused by the network, so it is not sent: {reason}")
    assert failed["message"].startswith(before(refused, "reason")) and REFUSAL in failed["message"]

    client, book = logged_in(root, tmp_path / "web")
    try:
        client.get("/calendar")  # the dashboard's plan is built (Now never waits for one)
        now_page = client.get("/").get_data(as_text=True)
        post_page = client.get("/posts/geweigerd").get_data(as_text=True)
    finally:
        book.close()
    needs = now_page.split('id="needs"', 1)[1].split("</section>", 1)[0]
    refusal = words.gettext("The network refused the post as it is (its text, length or image).")
    assert refusal in needs and refusal in post_page  # a sentence, with Mastodon's own words folded away
    assert before(until, "problems") + "posts/kapot.md:3: " in needs  # the held send's reason, as the alert said
    shown = reasons_in(needs) + reasons_in(post_page)
    assert any(REFUSAL in reason for reason in shown)
    assert shown and not [reason for reason in shown if "{" in reason or "}" in reason]  # no JSON
