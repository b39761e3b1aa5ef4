"""MastodonChannel against a fake Mastodon instance over real HTTP."""

from __future__ import annotations

import io
import logging
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scheduler.channels.mastodon import MastodonChannel
from scheduler.channels.registry import adapter_class
from scheduler.content.networks import limits_for
from scheduler.errors import ChannelError, ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import MediaItem, RenderedPost
from tests.fakes.images import photo
from tests.fakes.mastodon_server import TOKEN, FakeMastodon

SENTINEL = "SENTINEL-TOKEN-9f3a"
TEXT = "Praat erover. Kindermishandeling stopt pas als we kijken. https://example.org/hulp #geweld"


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    with FakeMastodon() as fake:
        yield fake


def channel_for(server: FakeMastodon, **settings: Any) -> MastodonChannel:
    return MastodonChannel("mastodon-nl", {"instance": server.url, "token": TOKEN, **settings})


@pytest.fixture
def channel(server: FakeMastodon) -> Iterator[MastodonChannel]:
    adapter = channel_for(server)
    yield adapter
    adapter.close()


def post(text: str = TEXT, media: tuple[MediaItem, ...] = ()) -> RenderedPost:
    return RenderedPost(post="2024/week-47", channel="mastodon-nl", text=text, media=media)


def image(tmp_path: Path, name: str = "handen.png") -> MediaItem:
    path = photo(tmp_path / name)  # made by Pillow, with GPS EXIF and XMP
    return MediaItem(path=path, alt="Twee volwassen handen houden een kinderhand vast.")


def posts_to_statuses(server: FakeMastodon) -> int:
    return sum(1 for r in server.requests if (r.method, r.path) == ("POST", "/api/v1/statuses"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- publishing --------------------------------------------------------------------------------


def test_publish_uploads_media_waits_while_processing_and_sends_alt_text(
    tmp_path: Path, channel: MastodonChannel, server: FakeMastodon
) -> None:
    server.processing_polls = 2
    item = image(tmp_path)

    receipt = channel.publish(post(media=(item,)), key="key-media-1")

    [status] = server.statuses
    [media] = status["media_attachments"]
    assert media["description"] == item.alt
    assert Image.open(io.BytesIO(server.uploads[media["id"]].data)).size == (400, 300)
    assert server.image_traces == []  # the rendition went out: no EXIF, XMP or GPS
    assert server.uploads[media["id"]].content_type == "image/png"
    polls = [r for r in server.requests if r.path == f"/api/v1/media/{media['id']}"]
    assert len(polls) == 3  # 206, 206, 200
    assert receipt.remote_id == status["id"]
    assert receipt.url == status["url"]


def test_status_carries_text_visibility_and_language(
    server: FakeMastodon,
) -> None:
    adapter = channel_for(server, visibility="unlisted", language="en")
    try:
        adapter.publish(post(), key="key-fields")
    finally:
        adapter.close()
    [status] = server.statuses
    assert (status["text"], status["visibility"], status["language"]) == (TEXT, "unlisted", "en")


def test_language_defaults_to_the_posts_language(channel: MastodonChannel, server: FakeMastodon) -> None:
    channel.publish(post(), key="key-language")
    assert server.statuses[0]["language"] == "nl"


def test_idempotency_key_is_sent_and_stable_so_a_second_publish_returns_the_first_status(
    channel: MastodonChannel, server: FakeMastodon
) -> None:
    first = channel.publish(post(), key="campagne:2024/week-47:mastodon-nl:v1")
    second = channel.publish(post(), key="campagne:2024/week-47:mastodon-nl:v1")

    posts = [r for r in server.requests if r.path == "/api/v1/statuses"]
    keys = [r.headers.get("idempotency-key") for r in posts]
    assert keys == ["campagne:2024/week-47:mastodon-nl:v1"] * 2
    assert len(server.statuses) == 1
    assert first == second


def test_instance_limit_is_fetched_once_per_adapter(channel: MastodonChannel, server: FakeMastodon) -> None:
    for number in range(3):
        channel.publish(post(), key=f"key-{number}")
    assert sum(1 for r in server.requests if r.path == "/api/v2/instance") == 1


def test_text_over_the_instances_limit_is_rejected_without_sending(tmp_path: Path, server: FakeMastodon) -> None:
    server.max_characters = 100
    adapter = channel_for(server)  # offline limit 500: only the instance knows better
    with pytest.raises(Rejected) as caught:
        adapter.publish(post("x" * 150, media=(image(tmp_path),)), key="key-long")
    adapter.close()

    assert "150 characters" in caught.value.reason
    assert "limit of 100" in caught.value.reason
    assert posts_to_statuses(server) == 0
    assert server.uploads == {}


def test_instance_without_v2_info_falls_back_to_the_configured_limit(
    server: FakeMastodon,
) -> None:
    server.fail("GET", "/api/v2/instance", 404, {"error": "Record not found"})
    adapter = channel_for(server, max_characters=100)
    with pytest.raises(Rejected, match="limit of 100"):
        adapter.publish(post("x" * 150), key="key-old-instance")
    adapter.close()
    assert posts_to_statuses(server) == 0


# -- errors ------------------------------------------------------------------------------------


def test_rate_limited_post_is_retry_later_after_retry_after_seconds(
    channel: MastodonChannel, server: FakeMastodon
) -> None:
    server.fail("POST", "/api/v1/statuses", 429, {"error": "Too many requests"}, {"Retry-After": "30"})
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key="key-429")
    assert caught.value.after == 30
    assert "Too many requests" in caught.value.reason
    assert server.statuses == []


def test_rate_limited_post_without_retry_after_waits_until_the_iso_reset_time(
    channel: MastodonChannel, server: FakeMastodon
) -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    server.fail(
        "POST",
        "/api/v1/statuses",
        429,
        {"error": "Too many requests"},
        {"X-RateLimit-Reset": reset, "X-RateLimit-Remaining": "0"},
    )
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key="key-429-reset")
    assert caught.value.after is not None
    assert 110 < caught.value.after <= 120


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_is_retry_later(channel: MastodonChannel, server: FakeMastodon, status: int) -> None:
    server.fail("POST", "/api/v1/statuses", status, {"error": "Service unavailable"})
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key=f"key-{status}")
    assert caught.value.after is None  # X-RateLimit-Reset says nothing about an outage
    assert server.statuses == []


def test_validation_error_is_rejected_with_mastodons_message(channel: MastodonChannel, server: FakeMastodon) -> None:
    with pytest.raises(Rejected) as caught:
        channel.publish(post("   "), key="key-blank")
    assert "HTTP 422" in caught.value.reason
    assert "Validation failed: Text can't be blank" in caught.value.reason


@pytest.mark.parametrize("status", [403, 404])
def test_forbidden_or_missing_is_rejected_with_mastodons_message(
    channel: MastodonChannel, server: FakeMastodon, status: int
) -> None:
    server.fail("POST", "/api/v1/statuses", status, {"error": "This action is not allowed"})
    with pytest.raises(Rejected, match="This action is not allowed"):
        channel.publish(post(), key=f"key-{status}")


def test_rejected_upload_is_rejected_and_posts_nothing(
    tmp_path: Path, channel: MastodonChannel, server: FakeMastodon
) -> None:
    error = {"error": "Validation failed: File content type is invalid"}
    server.fail("POST", "/api/v2/media", 422, error)
    with pytest.raises(Rejected, match="File content type is invalid"):
        channel.publish(post(media=(image(tmp_path),)), key="key-bad-media")
    assert posts_to_statuses(server) == 0


def test_media_still_processing_after_the_timeout_is_retry_later_without_posting(
    tmp_path: Path, server: FakeMastodon
) -> None:
    server.processing_polls = 1000
    adapter = channel_for(server, media_timeout=0.3)
    with pytest.raises(RetryLater, match="still processing"):
        adapter.publish(post(media=(image(tmp_path),)), key="key-slow-media")
    adapter.close()
    assert posts_to_statuses(server) == 0


def test_dropped_connection_after_post_is_in_doubt_and_resend_makes_one_status(
    channel: MastodonChannel, server: FakeMastodon
) -> None:
    server.drop_after_processing("POST", "/api/v1/statuses")
    with pytest.raises(InDoubt):
        channel.publish(post(), key="key-dropped")
    assert len(server.statuses) == 1  # it did go out

    receipt = channel.publish(post(), key="key-dropped")

    assert len(server.statuses) == 1
    assert receipt.remote_id == server.statuses[0]["id"]


def test_instance_gone_before_posting_is_retry_later_not_in_doubt(server: FakeMastodon) -> None:
    adapter = channel_for(server)
    adapter.check()  # limits fetched, connection kept alive
    server.stop()
    with pytest.raises(RetryLater):
        adapter.publish(post(), key="key-gone")
    adapter.close()


def test_redirected_post_is_rejected_instead_of_replayed_as_get(channel: MastodonChannel, server: FakeMastodon) -> None:
    elsewhere = "https://elders.example/api/v1/statuses"
    server.fail("POST", "/api/v1/statuses", 301, None, {"Location": elsewhere})
    with pytest.raises(Rejected, match=re.escape(f"redirects to {elsewhere}")):
        channel.publish(post(), key="key-redirect")
    assert posts_to_statuses(server) == 1


def test_token_never_appears_in_errors_or_logs_even_when_the_server_echoes_it(
    server: FakeMastodon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = MastodonChannel("mastodon-nl", {"instance": server.url, "token": SENTINEL})
    errors: list[ChannelError] = []
    for attempt in (adapter.check, lambda: adapter.publish(post(), key="key-sentinel")):
        with pytest.raises(Rejected) as caught:
            attempt()
        errors.append(caught.value)
    adapter.close()

    echoed = [r for r in server.requests if r.headers.get("authorization") == f"Bearer {SENTINEL}"]
    assert echoed, "the fake must have received (and echoed) the sentinel"
    assert "token rejected" in errors[0].reason
    assert "access token is invalid" in errors[1].reason
    for error in errors:
        assert SENTINEL not in f"{error} {error.reason!r} {error.__context__} {error.__cause__}"
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    for record in caplog.records:
        assert SENTINEL not in record.getMessage()


# -- check -------------------------------------------------------------------------------------


def test_check_names_the_account_the_instance_and_its_limit(channel: MastodonChannel, server: FakeMastodon) -> None:
    host = server.url.removeprefix("http://")
    assert channel.check() == f"authenticated as @campagne on {host} (limit 500)"


def test_check_with_a_rejected_token_says_so(server: FakeMastodon) -> None:
    adapter = MastodonChannel("mastodon-nl", {"instance": server.url, "token": "wrong-token"})
    with pytest.raises(Rejected) as caught:
        adapter.check()
    adapter.close()
    assert caught.value.reason == f"token rejected by {server.url.removeprefix('http://')}"


def test_check_of_an_unreachable_instance_is_retry_later() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    adapter = MastodonChannel("mastodon-nl", {"instance": nowhere, "token": TOKEN})
    with pytest.raises(RetryLater, match=r"^instance unreachable: "):
        adapter.check()
    adapter.close()


# -- configuration -----------------------------------------------------------------------------


def test_registry_finds_the_adapter_and_its_limits() -> None:
    assert adapter_class("mastodon") is MastodonChannel
    limits = limits_for("mastodon", {"max_characters": 1000})
    assert limits.length.limit == 1000
    assert limits.media.max_items == 4
    assert limits.media.max_bytes == 16_000_000
    assert MastodonChannel.limits({}).length.limit == 500


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"token": SENTINEL}, "`instance`"),
        ({"instance": "mastodon.example", "token": SENTINEL}, "`instance`"),
        ({"instance": "https://mastodon.example"}, "`token`"),
        ({"instance": "https://mastodon.example", "token": SENTINEL, "visibility": "everyone"}, "`visibility`"),
    ],
)
def test_bad_settings_are_config_errors_that_never_quote_the_token(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        MastodonChannel("mastodon-nl", settings)
    assert SENTINEL not in str(caught.value)
