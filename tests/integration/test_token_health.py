"""Channels that stay healthy (issue #22): who each channel posts as and when its token ends, in
`campaign channels check`, against local servers that speak Graph's debug_token and LinkedIn's token
introspection as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.channels.registry import adapter_class
from scheduler.channels.tokens import Level, standing
from tests.fakes.facebook_server import TOKEN as FB_TOKEN
from tests.fakes.facebook_server import FakeGraph
from tests.fakes.linkedin_server import CLIENT_ID, CLIENT_SECRET, ORGANIZATION, VERSION, FakeLinkedIn
from tests.fakes.linkedin_server import TOKEN as LI_TOKEN
from tests.integration.daemon_helpers import campaign, write

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
