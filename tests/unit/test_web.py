"""The web dashboard in-process (Flask's test client): who gets in, who may act, what every response
carries, and that an action from the page is the CLI's action, recorded with the web user's name.
The real server in a real browser: tests/integration/test_web_browser.py."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scheduler.channels.base import Channel, Receipt
from scheduler.content.campaign import load
from scheduler.content.plan import build
from scheduler.errors import InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, RenderedPost
from scheduler.publish.alerts import Alerter
from scheduler.publish.ledger import Ledger
from scheduler.publish.publisher import Channels, Policy, Publisher
from scheduler.publish.states import State
from scheduler.web.app import create_app
from scheduler.web.site import Site
from scheduler.web.throttle import Throttle
from scheduler.web.users import Role, User, Users, hash_password
from tests.builders import post, write_campaign

SECRET = "s" * 40
SENTINEL = "sentinel-secret-4711-do-not-show"
PASSWORDS = {"anna": "anna's long password", "vera": "vera's long password"}
CHANNELS = """\
channels:
  mastodon: {type: dryrun, like: mastodon}
  bluesky: {type: dryrun, like: bluesky}
  alerts-bot: {type: telegram, token: "${TELEGRAM_TOKEN}", chat_id: "-100123"}
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def root(tmp_path: Path) -> Path:
    soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:00+00:00")
    return write_campaign(
        tmp_path / "campaign",
        {"week/01-aftrap.md": post("De week begint. #wtk", publish_at=soon, title="Aftrap")},
        channels=CHANNELS,
    )


@pytest.fixture
def ledger(root: Path, tmp_path: Path) -> Ledger:
    book = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    book.upgrade()
    campaign, _ = load(root)
    policy = Policy(timedelta(hours=1), 8, timedelta(seconds=30), timedelta(seconds=60))
    Publisher(book, Channels(campaign, tmp_path), Alerter(book, None), policy).sync(build(root), book.clock())
    return book


@cache
def hashed(name: str) -> str:  # argon2 is slow by design: once per test run
    return hash_password(PASSWORDS[name])


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users"
    Users(path).save(
        {"anna": User("anna", Role.OPERATOR, hashed("anna")), "vera": User("vera", Role.VIEWER, hashed("vera"))}
    )
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(root: Path, ledger: Ledger, users_file: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("TELEGRAM_TOKEN", SENTINEL)
    site = Site(root, ledger, Users(users_file), throttle=Throttle(per_pair=5, per_address=5, window=900, clock=clock))
    return create_app(site, SECRET, trust_proxy=True)


def token(client: FlaskClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def log_in(client: FlaskClient, name: str, password: str | None = None) -> int:
    data = {"username": name, "password": password or PASSWORDS[name], "csrf_token": token(client)}
    return client.post("/login", data=data).status_code


def test_every_page_but_login_and_health_needs_a_login(app: Flask) -> None:
    client = app.test_client()
    for path in ("/", "/calendar", "/posts/week/01-aftrap"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/login")
    assert client.get("/now.json").status_code == 401
    assert client.get("/health").get_json() == {"status": "ok"}
    assert client.get("/login").status_code == 200


def test_an_operator_logs_in_and_sees_now_in_the_campaigns_language(app: Flask) -> None:
    client = app.test_client()
    assert log_in(client, "anna") == 302
    page = client.get("/").get_data(as_text=True)
    assert 'lang="nl"' in page and "Alles pauzeren" in page
    assert "week/01-aftrap" in page  # the next send


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(app: Flask, clock: Clock) -> None:
    client = app.test_client()
    assert [log_in(client, "anna", "wrong password!") for _ in range(5)] == [401] * 5
    throttled = client.post(
        "/login", data={"username": "anna", "password": PASSWORDS["anna"], "csrf_token": token(client)}
    )
    assert throttled.status_code == 429  # even the right password waits
    assert int(throttled.headers["Retry-After"]) > 0
    clock.now += timedelta(seconds=901)
    assert log_in(client, "anna") == 302


def test_failures_are_counted_per_address_too(app: Flask) -> None:
    client = app.test_client()
    for name in ("a1", "a2", "a3", "a4", "a5"):  # a different name each time, from one address
        assert log_in(client, name, "guessing password") == 401
    assert log_in(client, "vera") == 429
    other = app.test_client()
    assert (
        other.post(
            "/login",
            data={"username": "vera", "password": PASSWORDS["vera"], "csrf_token": token(other)},
            headers={"X-Forwarded-For": "198.51.100.7"},
        ).status_code
        == 302
    )  # another address (through the trusted proxy) is not slowed down


def test_a_post_without_a_csrf_token_is_refused(app: Flask, ledger: Ledger) -> None:
    client = app.test_client()
    log_in(client, "anna")
    response = client.post("/pause", data={"reason": "no token"})
    assert response.status_code == 400
    assert ledger.operators.pauses() == []
    assert client.post("/pause", data={"reason": "a forged token", "csrf_token": "x" * 40}).status_code == 400
    assert ledger.operators.pauses() == []


def test_a_viewer_may_look_but_not_act(app: Flask, ledger: Ledger) -> None:
    client = app.test_client()
    assert log_in(client, "vera") == 302
    page = client.get("/").get_data(as_text=True)
    assert "pause-button" not in page
    for action in ("/pause", "/resume", "/retry", "/resolve"):
        data = {
            "reason": "viewer tries",
            "post": "week/01-aftrap",
            "channel": "mastodon",
            "csrf_token": token(client, "/"),
        }
        assert client.post(action, data=data).status_code == 403
    assert ledger.operators.pauses() == []


def test_a_pause_from_the_page_is_the_ledgers_pause_by_the_web_user(app: Flask, ledger: Ledger) -> None:
    client = app.test_client()
    log_in(client, "anna")
    response = client.post("/pause", data={"reason": "nieuws", "channel": "", "csrf_token": token(client, "/")})
    assert response.status_code == 303
    assert [(p.scope, p.reason) for p in ledger.operators.pauses()] == [("*", "nieuws")]
    assert ledger.operators.actions()[-1].who == "anna"
    page = client.get("/").get_data(as_text=True)
    assert "Alles is gepauzeerd" in page and "door anna (dashboard)" in page and "nieuws" in page
    assert client.get("/now.json").get_json()["paused"][0].startswith("Alles is gepauzeerd sinds")
    client.post("/resume", data={"channel": "*", "csrf_token": token(client, "/")})
    assert ledger.operators.pauses() == []


def test_a_pause_needs_a_reason_and_a_known_channel(app: Flask, ledger: Ledger) -> None:
    client = app.test_client()
    log_in(client, "anna")
    csrf = token(client, "/")
    client.post("/pause", data={"reason": "  ", "csrf_token": csrf})
    client.post("/pause", data={"reason": "x", "channel": "myspace", "csrf_token": csrf})
    assert ledger.operators.pauses() == []
    page = client.get("/").get_data(as_text=True)
    assert "Een pauze heeft een reden nodig." in page and "Er is geen kanaal myspace." in page


def test_a_removed_account_is_logged_out_at_its_next_request(app: Flask, users_file: Path) -> None:
    client = app.test_client()
    log_in(client, "anna")
    assert client.get("/").status_code == 200
    accounts = Users(users_file)
    kept = accounts.all()
    del kept["anna"]
    accounts.save(kept)
    assert client.get("/").status_code == 302


def test_every_response_carries_the_security_headers_and_the_cookie_is_strict(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = app.test_client().get("/login")
    assert "Secure" not in plain.headers["Set-Cookie"]  # plain HTTP on 127.0.0.1: a Secure cookie would never come back
    assert "Strict-Transport-Security" not in plain.headers


def test_login_never_redirects_to_another_site(app: Flask) -> None:
    client = app.test_client()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "/\r\nSet-Cookie: evil=1"):
        data = {"username": "anna", "password": PASSWORDS["anna"], "csrf_token": token(client), "next": target}
        assert client.post("/login", data=data).location == "/"
        client.post("/logout", data={"csrf_token": token(client, "/")})


def test_no_page_shows_a_channel_secret(app: Flask) -> None:
    client = app.test_client()
    log_in(client, "anna")
    for path in ("/", "/now/live", "/now.json", "/calendar", "/posts/week/01-aftrap", "/health", "/login"):
        body = client.get(path).get_data(as_text=True)
        assert SENTINEL not in body, path


def test_the_calendar_shows_each_card_with_its_state_in_the_ledger(app: Flask) -> None:
    client = app.test_client()
    log_in(client, "vera")
    page = client.get("/calendar").get_data(as_text=True)
    assert 'class="card net-mastodon state-pending"' in page
    assert '<p class="state state-pending">gepland</p>' in page
    assert 'style="' not in page  # the CSP allows no inline style: the bars get their width from web.js


def test_a_post_page_shows_its_text_and_its_state(app: Flask) -> None:
    client = app.test_client()
    log_in(client, "vera")
    page = client.get("/posts/week/01-aftrap").get_data(as_text=True)
    assert "De week begint." in page and "gepland" in page
    assert client.get("/posts/no/such-post").status_code == 404


def test_a_campaign_in_english_gets_english_pages(app: Flask, root: Path) -> None:
    defaults = root / "posts" / "_defaults.yml"
    defaults.write_text(defaults.read_text(encoding="utf-8").replace("language: nl", "language: en"), encoding="utf-8")
    client = app.test_client()
    log_in(client, "anna")
    page = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in page and "Pause everything" in page and "Sending as planned." in page


def test_a_login_ends_after_its_hours(root: Path, ledger: Ledger, users_file: Path) -> None:
    app = create_app(Site(root, ledger, Users(users_file)), SECRET, session_hours=0)
    client = app.test_client()
    assert log_in(client, "anna") == 302
    assert client.get("/").status_code == 302  # back to the login page


def test_while_the_ledger_cannot_be_reached_pages_say_so_and_health_is_503(
    root: Path, users_file: Path, tmp_path: Path
) -> None:
    away = Ledger(f"sqlite:///{tmp_path / 'no-such-folder' / 'ledger.db'}")
    app = create_app(Site(root, away, Users(users_file)), SECRET)
    client = app.test_client()
    assert client.get("/health").status_code == 503
    data = {"username": "anna", "password": PASSWORDS["anna"], "csrf_token": token(client)}
    refused = client.post("/login", data=data)  # the login's throttle and session live in the ledger
    assert refused.status_code == 503 and "niet bereikbaar" in refused.get_data(as_text=True)

    (tmp_path / "db").mkdir()
    going = Ledger(f"sqlite:///{tmp_path / 'db' / 'ledger.db'}")
    going.upgrade()
    app = create_app(Site(root, going, Users(users_file)), SECRET)
    client = app.test_client()
    assert log_in(client, "anna") == 302
    (tmp_path / "db").rename(tmp_path / "db-gone")
    going.close()  # its next connection finds no database
    response = client.get("/")
    assert response.status_code == 503 and "niet bereikbaar" in response.get_data(as_text=True)
    assert client.get("/now.json").status_code == 503


class Unsure(Channel):
    """A network whose every answer is lost: the send is in doubt."""

    type_name = "unsure"

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LengthRule("characters", None, len))

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        raise InDoubt("the answer was lost")


class SomeUnsure(Channels):
    def get(self, name: str) -> Channel:
        return Unsure(name, {}) if name == "bluesky" else super().get(name)


@pytest.fixture
def troubled(root: Path, ledger: Ledger, tmp_path: Path) -> Ledger:
    """The ledger with a missed send (3 hours late) and a send in doubt (its answer lost)."""
    past = datetime.now(UTC) - timedelta(hours=3)
    recent = datetime.now(UTC) - timedelta(minutes=1)
    write_campaign(
        root,
        {
            "week/00-gemist.md": post("Te laat.", publish_at=past.strftime("%Y-%m-%dT%H:%M:00+00:00")),
            "week/00-twijfel.md": post(
                "Onzeker.", publish_at=recent.strftime("%Y-%m-%dT%H:%M:00+00:00"), channels="[bluesky]"
            ),
        },
        channels=CHANNELS,
    )
    campaign, _ = load(root)
    policy = Policy(timedelta(hours=1), 8, timedelta(seconds=30), timedelta(seconds=60))
    sender = Publisher(ledger, SomeUnsure(campaign, tmp_path), Alerter(ledger, None), policy)
    sender.sync(build(root), ledger.clock())
    sender.make_pass()
    assert {r.post: r.state for r in ledger.views.rows() if r.post.startswith("week/00")} == {
        "week/00-gemist": State.MISSED,
        "week/00-twijfel": State.IN_DOUBT,
    }
    return ledger


def test_an_operator_retries_a_missed_send_and_settles_one_in_doubt(app: Flask, troubled: Ledger) -> None:
    client = app.test_client()
    log_in(client, "anna")
    page = client.get("/").get_data(as_text=True)
    assert "Nu opnieuw versturen" in page and "Markeer als verstuurd" in page
    csrf = token(client, "/")
    client.post("/retry", data={"post": "week/00-gemist", "channel": "mastodon", "csrf_token": csrf})
    [missed] = troubled.views.rows(post="week/00-gemist")
    assert missed.state == State.PENDING
    url = "https://bsky.app/profile/wtk/post/3k"
    form = {"post": "week/00-twijfel", "channel": "bluesky", "outcome": "published", "url": url, "csrf_token": csrf}
    client.post("/resolve", data=form)
    [settled] = troubled.views.rows(post="week/00-twijfel")
    assert (settled.state, settled.receipt_url) == (State.PUBLISHED, url)
    assert [(a.action, a.who) for a in troubled.operators.actions()] == [("retry", "anna"), ("resolve", "anna")]
    post_page = client.get("/posts/week/00-twijfel").get_data(as_text=True)
    assert (
        f'href="{url}"' in post_page and "anna (dashboard) meldde week/00-twijfel op bluesky als verstuurd" in post_page
    )


def test_a_link_that_is_not_the_networks_is_never_made_a_link(app: Flask, troubled: Ledger) -> None:
    client = app.test_client()
    log_in(client, "anna")
    form = {"post": "week/00-twijfel", "channel": "bluesky", "outcome": "published", "url": "javascript:alert(1)"}
    client.post("/resolve", data={**form, "csrf_token": token(client, "/")})
    assert troubled.views.rows(post="week/00-twijfel")[0].state == State.IN_DOUBT
    assert "javascript:" not in client.get("/").get_data(as_text=True)


def test_now_lists_the_broken_settings_files_a_daemon_found(app: Flask, ledger: Ledger) -> None:
    problem = "posts/_defaults.yml:2: error: unknown time zone 'Europe/Amsterdan'"
    ledger.alerts.broken_files({"posts/_defaults.yml": problem}, ledger.clock())
    client = app.test_client()
    log_in(client, "vera")
    page = client.get("/").get_data(as_text=True)
    assert "kapot bestand" in page and "unknown time zone &#39;Europe/Amsterdan&#39;" in page


def test_a_broken_accounts_file_lets_nobody_in_and_says_so(app: Flask, users_file: Path) -> None:
    client = app.test_client()
    log_in(client, "anna")
    users_file.write_text("anna:root:plain-password\n", encoding="utf-8")
    response = client.get("/")
    assert response.status_code == 503 and "accountbestand" in response.get_data(as_text=True)
    assert "plain-password" not in response.get_data(as_text=True)


def test_the_calendar_feed_is_each_accounts_secret_link_and_ends_with_a_new_password(
    app: Flask, users_file: Path, root: Path
) -> None:
    from icalendar import Calendar

    client = app.test_client()
    assert client.get("/calendar.ics").status_code == 302  # not logged in: to the login page
    assert log_in(client, "vera") == 302  # a viewer may subscribe too: it shows, it does not act
    page = client.get("/calendar").get_data(as_text=True)
    found = re.search(r'class="feed-link" type="text" readonly value="(http[^"]+)"', page)
    assert found, "the calendar page shows the account's feed link"
    link = found.group(1).removeprefix("http://localhost")
    assert client.get("/calendar.ics").get_data() == app.test_client().get(link).get_data()
    answer = app.test_client().get(link)  # a calendar app: no session
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    events = Calendar.from_ical(answer.get_data()).walk("VEVENT")
    assert len(events) == len(build(root).select()) > 0  # every send, as `campaign export --format ics` has them
    assert all(str(e["summary"]).startswith("Aftrap") for e in events)
    assert SENTINEL not in answer.get_data(as_text=True)
    name, secret = link.removeprefix("/feed/").removesuffix(".ics").split("/")
    other = "1" if secret.endswith("0") else "0"  # a secret one character off (it may end in 0 itself)
    for wrong in (f"/feed/{name}/{secret[:-1]}{other}.ics", f"/feed/anna/{secret}.ics", f"/feed/nobody/{secret}.ics"):
        assert app.test_client().get(wrong).status_code == 404
    users = Users(users_file)
    users.save({**users.all(), "vera": User("vera", Role.VIEWER, hash_password("vera's new long password"))})
    assert app.test_client().get(link).status_code == 404  # a new password ends the old link


def test_a_changed_password_is_seen_even_within_one_time_stamp_tick(tmp_path: Path) -> None:
    # Same size (argon2 hashes are), same modification time: the old password must still stop working.
    path = tmp_path / "users"
    users = Users(path)
    users.save({"anna": User("anna", Role.OPERATOR, hashed("anna"))})
    before = path.stat()
    assert users.get("anna") is not None and users.get("anna").password_hash == hashed("anna")  # type: ignore[union-attr]
    new_hash = hash_password("anna's other long password")
    users.save({"anna": User("anna", Role.OPERATOR, new_hash)})
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    found = users.get("anna")
    assert found is not None and found.password_hash == new_hash


FACEBOOK_REFUSAL = (
    'HTTP 400: {"error": {"message": "(#100)   The parameter message\\n is required", "type": "OAuthException"}}'
)


class Refusing(Channel):
    """A network that refuses every post with its raw JSON answer, as the ledger then keeps it."""

    type_name = "refusing"

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=LengthRule("characters", None, len))

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        raise Rejected(FACEBOOK_REFUSAL)


class SomeRefusing(Channels):
    def get(self, name: str) -> Channel:
        return Refusing(name, {}) if name == "bluesky" else super().get(name)


@pytest.fixture
def refused(root: Path, ledger: Ledger, tmp_path: Path) -> Ledger:
    """The ledger with a failed send: the network refused it, in its own JSON."""
    recent = datetime.now(UTC) - timedelta(minutes=1)
    write_campaign(
        root,
        {
            "week/00-geweigerd.md": post(
                "Geweigerd.",
                publish_at=recent.strftime("%Y-%m-%dT%H:%M:00+00:00"),
                channels="[bluesky]",
                title="Dag nul en de hulplijn",
            )
        },
        channels=CHANNELS,
    )
    campaign, _ = load(root)
    policy = Policy(timedelta(hours=1), 8, timedelta(seconds=30), timedelta(seconds=60))
    sender = Publisher(ledger, SomeRefusing(campaign, tmp_path), Alerter(ledger, None), policy)
    sender.sync(build(root), ledger.clock())
    sender.make_pass()
    assert [r.state for r in ledger.views.rows(post="week/00-geweigerd")] == [State.FAILED]
    return ledger


def test_a_failed_send_shows_its_title_and_a_summary_in_the_campaigns_language(app: Flask, refused: Ledger) -> None:
    client = app.test_client()
    log_in(client, "anna")
    client.get("/calendar")  # the dashboard's plan is built (Now never waits for one)
    page = client.get("/").get_data(as_text=True)
    needs = page.split('id="needs"', 1)[1].split("</section>", 1)[0]
    assert "Dag nul en de hulplijn</a>" in needs  # the title, not the file's id
    assert "Het netwerk weigerde het bericht zoals het is" in needs
    raw = re.search(r'<details class="raw"><summary>Zoals vastgelegd</summary><code>([^<]*)</code>', needs)
    assert raw is not None and raw.group(1) == "HTTP 400: (#100) The parameter message is required"
    assert "Verstuur het opnieuw als de oorzaak weg is." in needs and "Nu opnieuw versturen" in needs
    post_page = client.get("/posts/week/00-geweigerd").get_data(as_text=True)
    attempts = post_page.split("<h2>Pogingen</h2>", 1)[1]
    assert '<span class="badge">mislukt</span>' in attempts and ">failed<" not in attempts


def test_a_viewer_is_not_told_to_send_again_without_a_button(app: Flask, refused: Ledger) -> None:
    client = app.test_client()
    log_in(client, "vera")
    page = client.get("/").get_data(as_text=True)
    assert "Nu opnieuw versturen" not in page
    assert "Verstuur het opnieuw" not in page
    assert "Een beheerder kan het opnieuw versturen als de oorzaak weg is." in page


def test_pauses_and_resumes_read_in_the_campaigns_language(app: Flask, ledger: Ledger) -> None:
    client = app.test_client()
    log_in(client, "anna")
    client.post("/pause", data={"reason": "nieuws", "channel": "mastodon", "csrf_token": token(client, "/")})
    client.post("/resume", data={"channel": "mastodon", "csrf_token": token(client, "/")})
    actions = client.get("/").get_data(as_text=True).split('id="actions"', 1)[1]
    assert "anna (dashboard) pauzeerde mastodon: nieuws" in actions
    assert "anna (dashboard) hervatte mastodon" in actions
    assert "paused" not in actions and "resumed" not in actions and "(web)" not in actions


class Overloaded(Refusing):
    """A network that is down, its JSON answer cut short as the ledger keeps it (500 characters)."""

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        raise RetryLater('mastodon.example: HTTP 503: {"error": "Down for maintenance,\\n back soon", "details": [1, 2')


class SomeOverloaded(Channels):
    def get(self, name: str) -> Channel:
        return Overloaded(name, {}) if name == "bluesky" else super().get(name)


def test_a_send_given_up_shows_a_sentence_and_the_networks_words_without_its_json(
    app: Flask, root: Path, ledger: Ledger, tmp_path: Path
) -> None:
    recent = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:00+00:00")
    write_campaign(
        root,
        {"week/00-plat.md": post("Plat.", publish_at=recent, channels="[bluesky]", title="Netwerk plat")},
        channels=CHANNELS,
    )
    campaign, _ = load(root)
    once = Policy(timedelta(hours=1), 1, timedelta(seconds=30), timedelta(seconds=60))
    sender = Publisher(ledger, SomeOverloaded(campaign, tmp_path), Alerter(ledger, None), once)
    sender.sync(build(root), ledger.clock())
    sender.make_pass()
    assert [r.state for r in ledger.views.rows(post="week/00-plat")] == [State.FAILED]
    client = app.test_client()
    log_in(client, "anna")
    client.get("/calendar")  # the dashboard's plan is built (Now never waits for one)
    for page in (client.get("/").get_data(as_text=True), client.get("/posts/week/00-plat").get_data(as_text=True)):
        assert "Het netwerk had zelf een probleem." in page  # the campaign is Dutch
        shown = set(re.findall(r"<code>([^<]*Down for maintenance[^<]*)</code>", page))  # the reason, its attempt's
        assert shown == {"gave up after attempt 1: mastodon.example: HTTP 503: Down for maintenance, back soon"}
