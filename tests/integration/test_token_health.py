"""Channels that stay healthy (issue #22): who each channel posts as and when its token ends, in
`campaign channels check`, against local servers that speak Graph's debug_token and LinkedIn's token
introspection as documented."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.channels.registry import adapter_class
from scheduler.channels.tokens import Level, standing
from scheduler.content import campaign as campaign_file
from scheduler.publish.adapters import Channels
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger
from scheduler.publish.tokens import TokenWatch
from tests.fakes.facebook_server import TOKEN as FB_TOKEN
from tests.fakes.facebook_server import FakeGraph
from tests.fakes.linkedin_server import CLIENT_ID, CLIENT_SECRET, ORGANIZATION, VERSION, FakeLinkedIn
from tests.fakes.linkedin_server import TOKEN as LI_TOKEN
from tests.integration.daemon_helpers import campaign, daemon, states, stop, wait_for, write

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SECRETS = {"FACEBOOK_PAGE_TOKEN": FB_TOKEN, "LINKEDIN_TOKEN": LI_TOKEN, "LINKEDIN_CLIENT_SECRET": CLIENT_SECRET}


def facebook(graph: FakeGraph) -> str:
    return f"  facebook: {{type: facebook, page_id: '{graph.page_id}', graph: '{graph.url}', token: '${{FACEBOOK_PAGE_TOKEN}}'}}\n"


def linkedin(server: FakeLinkedIn, app: bool = True) -> str:
    client = (
        f", client_id: {CLIENT_ID}, client_secret: '${{LINKEDIN_CLIENT_SECRET}}', www: '{server.url}'" if app else ""
    )
    return (
        f"  linkedin: {{type: linkedin, author: '{ORGANIZATION}', token: '${{LINKEDIN_TOKEN}}', version: '{VERSION}',"
        f" api: '{server.url}'{client}}}\n"
    )


def check(root: Path, channels: str) -> tuple[int, str]:
    write(root, {}, channels="channels:\n" + channels, default_channels="[]")
    run = campaign(root, "channels", "check", env={**SECRETS, "CAMPAIGN_NOW": NOW.isoformat()})
    return run.returncode, run.stdout + run.stderr


def test_a_page_token_that_never_expires_is_ok_and_names_the_page(tmp_path: Path) -> None:
    with FakeGraph() as graph:
        code, out = check(tmp_path, facebook(graph))
    assert code == 0, out
    assert f"posts as Page {graph.page_id}; token does not expire" in out


def test_a_token_ending_in_40_days_is_ok_with_its_date(tmp_path: Path) -> None:
    with FakeGraph() as graph:
        graph.data_access_expires_at = int((NOW + timedelta(days=40)).timestamp())
        code, out = check(tmp_path, facebook(graph))
    assert code == 0, out
    assert "ok      facebook:" in out and "token expires on 2027-01-16 09:00 UTC, in 40 days" in out


@pytest.mark.parametrize("days", [14, 3])
def test_a_token_ending_within_14_days_is_a_warning_with_the_step_to_renew(tmp_path: Path, days: int) -> None:
    with FakeGraph() as graph:
        graph.expires_at = int((NOW + timedelta(days=days, minutes=-1)).timestamp())
        code, out = check(tmp_path, facebook(graph))
    assert code == 3, out
    assert "WARNING facebook:" in out
    assert f"in {days - 1} day" in out and "make a new long-lived Page access token" in out


def test_an_expired_token_is_an_error_naming_the_channel_and_the_step(tmp_path: Path) -> None:
    with FakeLinkedIn() as server:
        server.expires_at = int((NOW - timedelta(days=1)).timestamp())
        code, out = check(tmp_path, linkedin(server))
    assert code == 1, out
    assert "FAILED  linkedin:" in out and "token expired on 2026-12-06 09:00 UTC" in out
    assert "reconnect before day 60" in out


def test_a_revoked_token_is_an_error(tmp_path: Path) -> None:
    with FakeLinkedIn() as server:
        server.token_status = "revoked"
        code, out = check(tmp_path, linkedin(server))
    assert code == 1, out
    assert "FAILED  linkedin:" in out and "token expired or revoked (LinkedIn says revoked)" in out


def test_a_token_the_network_refuses_is_an_error_with_the_step(tmp_path: Path) -> None:
    with FakeGraph(token="another-token") as graph:
        code, out = check(tmp_path, facebook(graph))
    assert code == 1, out
    assert "FAILED  facebook: token rejected" in out and "new long-lived Page access token" in out


def test_linkedin_says_when_its_token_ends_only_with_the_app_credentials(tmp_path: Path) -> None:
    with FakeLinkedIn() as server:
        server.expires_at = int((NOW + timedelta(days=50)).timestamp())
        code, out = check(tmp_path, linkedin(server, app=False))
        assert code == 0, out
        assert f"posts as Page {ORGANIZATION}; token expiry not known (LinkedIn tells only the app" in out
        code, out = check(tmp_path, linkedin(server))
    assert code == 0, out
    assert "in 50 days" in out


@pytest.mark.parametrize(
    ("kind", "settings", "network"),
    [
        ("mastodon", {"instance": "https://social.example", "token": "mastodon-sentinel"}, "Mastodon access tokens"),
        ("bluesky", {"handle": "campagne.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"}, "Bluesky app passwords"),
        ("telegram", {"token": "123456:abcdefghijklmnopqrstuvwxyz012345678", "chat_id": "@campagne"}, "Telegram bot"),
    ],
)
def test_credentials_without_an_end_date_say_so_honestly(kind: str, settings: dict[str, str], network: str) -> None:
    adapter = adapter_class(kind)("c", settings)
    health = adapter.token_health()
    adapter.close()
    assert health is not None and health.never and health.expires is None
    level, words = standing(health, NOW)
    assert level == Level.OK and words.startswith("token does not expire") and network in words


def test_no_secret_in_the_output_of_check(tmp_path: Path) -> None:
    with FakeLinkedIn() as server, FakeGraph() as graph:
        server.token_status = "expired"
        code, out = check(tmp_path, linkedin(server) + facebook(graph))
    assert code == 1
    for secret in SECRETS.values():
        assert secret not in out


# -- the daemon's daily look ----------------------------------------------------------------------


def watch_on(root: Path) -> tuple[TokenWatch, Ledger, Channels]:
    """What a daemon started on `root` looks at tokens with: the campaign's channels, the ledger's alerts."""
    campaign_, problems = campaign_file.load(root)
    assert not [p for p in problems if p.is_error], problems
    book = Ledger(f"sqlite:///{root / 'campaign.db'}")
    book.upgrade()
    channels = Channels(campaign_)
    return TokenWatch(channels, Alerter(book, None, "en")), book, channels


def token_alerts(root: Path) -> list[str]:
    book = Ledger(f"sqlite:///{root / 'campaign.db'}")
    try:
        return [a.message for a in reversed(book.alerts.latest()) if a.kind == "token"]
    finally:
        book.close()


def test_expiry_is_alerted_14_3_and_1_days_before_each_once_across_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEBOOK_PAGE_TOKEN", FB_TOKEN)
    ends = NOW + timedelta(days=20)
    clock = SimulatedClock(NOW)
    with FakeGraph() as graph:
        graph.expires_at = int(ends.timestamp())
        write(tmp_path, {}, channels="channels:\n" + facebook(graph), default_channels="[]")
        watch, book, channels = watch_on(tmp_path)
        seen: list[list[str]] = []
        for step in (timedelta(0), timedelta(days=6, hours=1), timedelta(hours=23), timedelta(days=1)):
            clock.advance(step)  # day 0 (20 left), day 6 (14 left: alert), day 7 and 8 (nothing new)
            seen.append(watch.run(clock.now()))
        book.close()
        channels.close()
        watch, book, channels = watch_on(tmp_path)  # a restart: a new process, the same ledger
        seen.append(watch.run(clock.now()))
        for day in (17, 18, 19, 20, 21):
            clock.set(NOW + timedelta(days=day, hours=1))
            seen.append(watch.run(clock.now()))
        book.close()
        channels.close()
    assert [len(s) for s in seen] == [0, 1, 0, 0, 0, 1, 0, 1, 1, 0]
    assert token_alerts(tmp_path) == [
        "the token of channel facebook expires on 2026-12-27 09:00 UTC, within 14 days: make a new long-lived Page "
        f"access token for Page {graph.page_id} and store it where the channel's `token:` points "
        "(docs/writing-posts.md, Facebook)",
        *[s[0] for s in seen[5:9] if s],
    ]
    assert "within 3 days" in seen[5][0] and "within a day" in seen[7][0]
    assert seen[8][0].startswith("the token of channel facebook expired on 2026-12-27 09:00 UTC: make a new")


def test_a_linkedin_token_revoked_is_alerted_in_dutch_with_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with FakeLinkedIn() as server:
        server.token_status = "revoked"
        write(tmp_path, {}, channels="channels:\n" + linkedin(server), default_channels="[]")
        watch, book, channels = watch_on(tmp_path)
        watch.alerter.language = "nl"
        [said] = watch.run(NOW)
        again = watch.run(NOW + timedelta(hours=2))
        book.close()
        channels.close()
    assert said.startswith("het token van kanaal linkedin is verlopen of ingetrokken (gezien op 2026-12-07)")
    assert "reconnect before day 60" in said and again == []
    assert CLIENT_SECRET not in said and LI_TOKEN not in said


def test_the_daemon_looks_at_the_tokens_when_it_starts(tmp_path: Path) -> None:
    with FakeGraph() as graph:
        graph.expires_at = int((datetime.now(UTC) + timedelta(days=2)).timestamp())
        write(tmp_path, {}, channels="channels:\n" + facebook(graph), default_channels="[]")
        process = daemon(tmp_path, FACEBOOK_PAGE_TOKEN=FB_TOKEN)
        try:
            assert wait_for(lambda: (tmp_path / "campaign.db").exists() and token_alerts(tmp_path) != [], 60)
        finally:
            err = stop(process)
    [alert] = token_alerts(tmp_path)
    assert "het token van kanaal facebook verloopt op" in alert and "binnen 3 dagen" in alert  # the campaign's language
    assert FB_TOKEN not in err


def test_a_rejected_token_is_one_alert_for_several_posts(tmp_path: Path) -> None:
    due = datetime.now(UTC) - timedelta(minutes=1)
    with FakeGraph(token="the-right-token") as graph:
        write(
            tmp_path,
            {name: (due, f"Bericht {name}.") for name in ("een", "twee", "drie")},
            channels="channels:\n" + facebook(graph),
            default_channels="[facebook]",
        )
        run = campaign(tmp_path, "run", "--once", env={"FACEBOOK_PAGE_TOKEN": FB_TOKEN})
    assert run.returncode == 0, run.stderr
    assert set(states(tmp_path).values()) == {"failed"} and len(states(tmp_path)) == 3
    book = Ledger(f"sqlite:///{tmp_path / 'campaign.db'}")
    alerts = book.alerts.latest()
    book.close()
    assert [a.kind for a in alerts] == ["failed"]
    assert alerts[0].message.startswith("het netwerk weigerde het token van kanaal facebook; de berichten daarop")
    assert FB_TOKEN not in run.stdout + run.stderr + alerts[0].message


# -- refresh --------------------------------------------------------------------------------------

REFRESHING = '''
from datetime import UTC, datetime, timedelta

from scheduler.channels.dryrun import DryRunChannel
from scheduler.channels.tokens import TokenHealth


class RefreshingChannel(DryRunChannel):
    """A network whose long-lived tokens can be exchanged for new ones (as Instagram's and Threads' can)."""

    type_name = "refreshing"
    can_refresh = True

    def refresh(self) -> str:
        return "fresh-" + self.settings["token"][::-1]

    def token_health(self) -> TokenHealth:
        days = 60 if self.settings["token"].startswith("fresh-") else 10  # a refreshed token lasts 60 days
        ends = datetime.now(UTC) + timedelta(days=days)
        return TokenHealth(posts_as="@campagne", renew="refresh it", expires=ends)
'''
OLD = "old-sentinel-token-5f1e"


def installed(tmp_path: Path) -> Path:
    """The adapter above as an installed distribution with its entry point (as test_example_adapter does)."""
    site = tmp_path / "site"
    info = site / "campaign_refreshing-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "refreshing_channel.py").write_text(REFRESHING, encoding="utf-8")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: campaign-refreshing\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[campaign_scheduler.channels]\nrefreshing = refreshing_channel:RefreshingChannel\n", encoding="utf-8"
    )
    return site


def refresh_scene(tmp_path: Path) -> tuple[Path, dict[str, str], Path]:
    root, secrets = tmp_path / "campaign", tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "REFRESH_TOKEN").write_text(OLD + "\n", encoding="utf-8")
    (secrets / "REFRESH_TOKEN").chmod(0o600)
    channels = (
        "channels:\n  insta: {type: refreshing, like: mastodon, token: '${REFRESH_TOKEN}'}\n  proef: {type: dryrun}\n"
    )
    write(root, {}, channels=channels, default_channels="[]")
    return root, {"PYTHONPATH": str(installed(tmp_path)), "CAMPAIGN_SECRETS_DIR": str(secrets)}, secrets


def test_refresh_writes_the_new_token_to_the_secrets_file_it_was_read_from(tmp_path: Path) -> None:
    root, env, secrets = refresh_scene(tmp_path)
    run = campaign(root, "channels", "refresh", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    new = "fresh-" + OLD[::-1]
    assert (secrets / "REFRESH_TOKEN").read_text(encoding="utf-8") == new + "\n"
    assert (secrets / "REFRESH_TOKEN").stat().st_mode & 0o777 == 0o600
    assert f"ok      insta: a new token is in {secrets / 'REFRESH_TOKEN'}" in run.stdout
    assert "skipped proef: dryrun tokens cannot be refreshed" in run.stdout
    assert sorted(p.name for p in secrets.iterdir()) == ["REFRESH_TOKEN"]  # no temporary file left behind
    for secret in (OLD, new):
        assert secret not in run.stdout + run.stderr
        assert not (root / "campaign.db").exists() or secret.encode() not in (root / "campaign.db").read_bytes()


def test_a_token_set_in_the_environment_cannot_be_written_and_is_not_refreshed(tmp_path: Path) -> None:
    root, env, secrets = refresh_scene(tmp_path)
    run = campaign(root, "channels", "refresh", "insta", env={**env, "REFRESH_TOKEN": OLD})
    assert run.returncode == 1
    assert "FAILED  insta: secret REFRESH_TOKEN comes from the environment" in run.stdout
    assert (secrets / "REFRESH_TOKEN").read_text(encoding="utf-8") == OLD + "\n"
    assert OLD not in run.stdout + run.stderr


def test_refreshing_a_channel_whose_network_cannot_is_an_error(tmp_path: Path) -> None:
    root, env, _ = refresh_scene(tmp_path)
    run = campaign(root, "channels", "refresh", "proef", env=env)
    assert run.returncode == 1 and "FAILED  proef: dryrun tokens cannot be refreshed" in run.stdout


def test_the_daemon_refreshes_a_token_before_the_14_day_alert(tmp_path: Path) -> None:
    root, env, secrets = refresh_scene(tmp_path)
    new = "fresh-" + OLD[::-1]
    process = daemon(root, **env)
    try:
        assert wait_for(lambda: (secrets / "REFRESH_TOKEN").read_text(encoding="utf-8") == new + "\n", 60)
    finally:
        err = stop(process)
    assert token_alerts(root) == []  # refreshed before any alert was due: the new token lasts 60 days
    assert OLD not in err and new not in err


def test_sentinel_secrets_never_reach_logs_errors_status_history_or_the_database(tmp_path: Path) -> None:
    fb, fb_old, li, li_app = "fb-sentinel-7d1c", "fb-old-sentinel-90aa", "li-sentinel-3e2f", "li-app-sentinel-c0de"
    due = datetime.now(UTC) - timedelta(minutes=1)
    with FakeGraph(token=fb) as graph, FakeGraph(token="the-right-token") as old, FakeLinkedIn(token=li) as server:
        graph.expires_at = int((datetime.now(UTC) + timedelta(days=2)).timestamp())
        server.client_secret, server.token_status = li_app, "revoked"
        channels = (
            facebook(graph)
            + facebook(old).replace("facebook:", "fbold:").replace("FACEBOOK_PAGE_TOKEN", "OLD_TOKEN")
            + linkedin(server)
        )
        write(tmp_path, {"p": (due, "Praat erover.")}, channels="channels:\n" + channels, default_channels="[fbold]")
        env = {"FACEBOOK_PAGE_TOKEN": fb, "OLD_TOKEN": fb_old, "LINKEDIN_TOKEN": li, "LINKEDIN_CLIENT_SECRET": li_app}
        process = daemon(tmp_path, "--log-level", "DEBUG", **env)
        try:
            assert wait_for(
                lambda: (
                    (tmp_path / "campaign.db").exists()
                    and len(token_alerts(tmp_path)) == 3
                    and states(tmp_path).get(("p", "fbold")) == "failed"
                ),
                60,
            )
        finally:
            err = stop(process)
        check = campaign(tmp_path, "channels", "check", env=env)
    outputs = [
        err,
        check.stdout + check.stderr,
        campaign(tmp_path, "status").stdout,
        campaign(tmp_path, "status", "--format", "json").stdout,
        campaign(tmp_path, "history").stdout,
        "\n".join(sqlite3.connect(tmp_path / "campaign.db").iterdump()),
    ]
    assert check.returncode == 1 and "FAILED  fbold: token rejected" in check.stdout
    assert "FAILED  linkedin:" in check.stdout and "WARNING facebook:" in check.stdout
    for secret in (fb, fb_old, li, li_app):
        for output in outputs:
            assert secret not in output
