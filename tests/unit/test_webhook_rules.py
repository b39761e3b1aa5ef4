"""Offline rules of the webhook channel: limits per format, signing, settings."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from scheduler.channels.webhook import WebhookChannel, sign, verify
from scheduler.errors import ConfigError


def test_discord_counts_2000_with_emoji_as_two() -> None:
    rule = WebhookChannel.limits({"format": "discord"}).length

    assert rule.limit == 2000
    assert rule.problems("x" * 2000) == []
    assert rule.problems("x" * 1999 + "👩") != []


def test_slack_allows_40000_and_teams_bounds_bytes() -> None:
    assert WebhookChannel.limits({"format": "slack"}).length.limit == 40_000
    teams = WebhookChannel.limits({"format": "teams"}).length
    assert teams.limit is None and teams.max_bytes == 24_000
    assert teams.problems("é" * 12_001) != []


def test_json_has_no_length_limit_and_takes_media() -> None:
    limits = WebhookChannel.limits({})

    assert limits.length.limit is None and limits.length.max_bytes is None
    assert limits.media.max_items is None


@pytest.mark.parametrize("kind", ["slack", "discord", "teams"])
def test_text_only_formats_take_no_images(kind: str) -> None:
    assert WebhookChannel.limits({"format": kind}).media.max_items == 0


def test_the_signature_is_github_style_hmac_sha256_of_the_bytes() -> None:
    body = '{"text":"Één"}'.encode()

    header = sign("geheim-123", body)

    assert header == "sha256=" + hmac.new(b"geheim-123", body, hashlib.sha256).hexdigest()
    assert verify("geheim-123", body, header)
    assert not verify("geheim-123", body, None)
    assert not verify("geheim-123", body, header.upper())


@pytest.mark.parametrize(
    "settings",
    [
        {"url": "ftp://example.org/hook"},
        {"url": "https://example.org/hook", "format": "mattermost"},
        {"url": "https://example.org/hook", "format": "slack", "secret": "s3cret-value"},
        {"url": "https://example.org/hook", "headers": ["X-A: b"]},
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        WebhookChannel("hook", settings)
