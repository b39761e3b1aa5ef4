"""TelegramChannel against a fake Bot API over real HTTP."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scheduler.channels.registry import adapter_class
from scheduler.channels.telegram import TelegramChannel, escape
from scheduler.content.networks import limits_for
from scheduler.errors import ChannelError, ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import MediaItem, RenderedPost
from tests.fakes.images import photo as camera_photo
from tests.fakes.telegram_server import TOKEN, EntityError, FakeTelegram, flood, parse

SENTINEL = "123456:SENTINEL-TOKEN-9f3a"
#: Every MarkdownV2-reserved character, the HTML ones, a backslash, emoji (2 UTF-16 units each,
#: one a ZWJ sequence) and accented letters.
TRICKY = (
    "Kind & ouder <samen>: _*[]()~`>#+-=|{}.! \\ 50% \"hulp\" 'nu' café 💙 👨‍👩‍👧 "
    "https://example.org/hulp?a=1&b=2 #geweld"
)


@pytest.fixture
def server() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def channel_for(server: FakeTelegram, **settings: Any) -> TelegramChannel:
    base = {"token": TOKEN, "chat_id": "@campagne", "api": server.url}
    return TelegramChannel("telegram-nl", {**base, **settings})


@pytest.fixture
def channel(server: FakeTelegram) -> Iterator[TelegramChannel]:
    adapter = channel_for(server)
    yield adapter
    adapter.close()


def post(text: str = TRICKY, media: tuple[MediaItem, ...] = ()) -> RenderedPost:
    return RenderedPost(post="2024/week-47", channel="telegram-nl", text=text, media=media)


def photo(tmp_path: Path) -> MediaItem:
    path = camera_photo(tmp_path / "handen.jpg")
    return MediaItem(path=path, alt="Twee handen.")


def sends(server: FakeTelegram) -> int:
    methods = ("/sendmessage", "/sendphoto")
    return sum(1 for r in server.requests if r.path.lower().endswith(methods))


def texts_along(error: BaseException) -> str:
    """The messages of `error` and of every exception chained to it."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return " ".join(texts)


# -- publishing and escaping -------------------------------------------------------------------


@pytest.mark.parametrize("parse_mode", ["none", "HTML", "MarkdownV2"])
def test_text_is_shown_exactly_as_written_in_every_parse_mode(server: FakeTelegram, parse_mode: str) -> None:
    adapter = channel_for(server, parse_mode=parse_mode)
    try:
        adapter.publish(post(), key="key-1")
    finally:
        adapter.close()
    [message] = server.messages
    assert message["shown"] == TRICKY
    assert message["parse_mode"] == (None if parse_mode == "none" else parse_mode)


def test_html_escaping_replaces_angle_brackets_and_ampersands_only() -> None:
    assert escape('a < b > c & d "e" 💙', "HTML") == 'a &lt; b &gt; c &amp; d "e" 💙'


def test_markdown_v2_escaping_puts_a_backslash_before_every_reserved_character() -> None:
    reserved = "_*[]()~`>#+-=|{}.!\\"
    assert escape(reserved, "MarkdownV2") == "".join("\\" + char for char in reserved)
    assert escape("café 💙 👨‍👩‍👧 ok", "MarkdownV2") == "café 💙 👨‍👩‍👧 ok"


@pytest.mark.parametrize(("text", "parse_mode"), [("Hulp.", "MarkdownV2"), ("a < b", "HTML"), ("a & b", "HTML")])
def test_the_fake_refuses_unescaped_text_like_telegram_so_escaping_tests_mean_something(
    text: str, parse_mode: str
) -> None:
    with pytest.raises(EntityError):
        parse(text, parse_mode)


def test_photo_is_sent_once_with_the_text_as_caption(
    tmp_path: Path, channel: TelegramChannel, server: FakeTelegram
) -> None:
    receipt = channel.publish(post(media=(photo(tmp_path),)), key="key-photo")

    [message] = server.messages
    assert message["caption"] == TRICKY
    assert Image.open(io.BytesIO(message["upload"].data)).size == (400, 300)
    assert message["upload"].content_type == "image/jpeg"
    assert server.image_traces == []  # the rendition went out: no EXIF, XMP or GPS
    assert receipt.url == f"https://t.me/campagne/{message['message_id']}"


def test_receipt_links_to_the_message_in_the_public_channel(channel: TelegramChannel, server: FakeTelegram) -> None:
    receipt = channel.publish(post(), key="key-receipt")
    message_id = server.messages[0]["message_id"]
    assert receipt.remote_id == str(message_id)
    assert receipt.url == f"https://t.me/campagne/{message_id}"


def test_more_than_one_image_is_rejected_without_sending(
    tmp_path: Path, channel: TelegramChannel, server: FakeTelegram
) -> None:
    item = photo(tmp_path)
    with pytest.raises(Rejected, match="one image"):
        channel.publish(post(media=(item, item)), key="key-two")
    assert sends(server) == 0


# -- limits in UTF-16 units --------------------------------------------------------------------


def test_limits_count_utf16_units_4096_for_text_and_1024_for_a_caption() -> None:
    limits = limits_for("telegram", {})
    assert adapter_class("telegram") is TelegramChannel
    assert limits.length_for(False).limit == 4096
    assert limits.length_for(True).limit == 1024
    assert limits.length.measure("💙" * 3) == 6
    assert limits.media.max_items == 1
    assert limits.media.max_bytes == 10_000_000


def test_text_of_exactly_4096_units_goes_out(channel: TelegramChannel, server: FakeTelegram) -> None:
    channel.publish(post("💙" * 2048), key="key-4096")
    assert len(server.messages) == 1


def test_text_over_4096_utf16_units_is_rejected_without_sending(channel: TelegramChannel, server: FakeTelegram) -> None:
    with pytest.raises(Rejected, match="4098 UTF-16 units, over the limit of 4096"):
        channel.publish(post("💙" * 2049), key="key-4098")  # 2049 characters, 4098 units
    assert sends(server) == 0


def test_caption_over_1024_utf16_units_is_rejected_without_sending(
    tmp_path: Path, channel: TelegramChannel, server: FakeTelegram
) -> None:
    with pytest.raises(Rejected, match="caption: text is 1026 UTF-16 units"):
        channel.publish(post("a" * 1000 + "💙" * 13, media=(photo(tmp_path),)), key="key-caption")
    assert sends(server) == 0


def test_escaping_does_not_count_against_the_limit(server: FakeTelegram) -> None:
    adapter = channel_for(server, parse_mode="MarkdownV2")
    try:
        adapter.publish(post("." * 4096), key="key-dots")  # 8192 characters on the wire
    finally:
        adapter.close()
    assert server.messages[0]["shown"] == "." * 4096


# -- errors ------------------------------------------------------------------------------------


def test_flood_control_is_retry_later_after_telegrams_retry_after(
    channel: TelegramChannel, server: FakeTelegram
) -> None:
    server.fail("POST", f"/bot{TOKEN}/sendMessage", 429, flood(17))
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key="key-flood")
    assert caught.value.after == 17
    assert "Too Many Requests" in caught.value.reason
    assert server.messages == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_is_retry_later(channel: TelegramChannel, server: FakeTelegram, status: int) -> None:
    server.fail(
        "POST",
        f"/bot{TOKEN}/sendMessage",
        status,
        {"ok": False, "error_code": status, "description": "Internal Server Error"},
    )
    with pytest.raises(RetryLater):
        channel.publish(post(), key=f"key-{status}")


def test_gateway_timeout_on_send_is_in_doubt_because_telegram_may_have_sent_it(
    channel: TelegramChannel, server: FakeTelegram
) -> None:
    server.fail(
        "POST", f"/bot{TOKEN}/sendMessage", 504, b"<html>504 Gateway Time-out</html>", {"Content-Type": "text/html"}
    )
    with pytest.raises(InDoubt):
        channel.publish(post(), key="key-504")


def test_bad_request_is_rejected_with_telegrams_description(server: FakeTelegram) -> None:
    adapter = channel_for(server, chat_id="@bestaat_niet")
    with pytest.raises(Rejected, match="HTTP 400: Bad Request: chat not found"):
        adapter.publish(post(), key="key-400")
    adapter.close()


def test_dropped_connection_after_send_is_in_doubt_and_the_message_is_out(
    channel: TelegramChannel, server: FakeTelegram
) -> None:
    server.drop_after_processing("POST", f"/bot{TOKEN}/sendMessage")
    with pytest.raises(InDoubt) as caught:
        channel.publish(post(), key="key-drop")
    assert len(server.messages) == 1
    assert TOKEN not in texts_along(caught.value)


def test_api_unreachable_is_retry_later_not_in_doubt() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = TelegramChannel("t", {"token": SENTINEL, "chat_id": "@c", "api": f"http://127.0.0.1:{port}"})
    with pytest.raises(RetryLater) as caught:
        adapter.publish(post(), key="key-unreachable")
    adapter.close()
    assert SENTINEL not in texts_along(caught.value)


def test_token_never_appears_in_errors_or_logs_even_when_the_server_echoes_it(
    tmp_path: Path, server: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = channel_for(server, token=SENTINEL)
    errors: list[ChannelError] = []
    attempts = (
        adapter.check,
        lambda: adapter.publish(post(), key="key-sentinel"),
        lambda: adapter.publish(post(media=(photo(tmp_path),)), key="key-sentinel-photo"),
    )
    for attempt in attempts:
        with pytest.raises(Rejected) as caught:
            attempt()
        errors.append(caught.value)
    server.drop_after_processing("GET", "/bot", times=10)
    with pytest.raises(RetryLater) as dropped:  # a read that never got an answer
        adapter.check()
    errors.append(dropped.value)
    adapter.close()

    assert server.requests and all(SENTINEL in r.path for r in server.requests)
    assert errors[0].reason == "token rejected"
    for error in errors:
        assert SENTINEL not in texts_along(error)
    library = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/bot***/" in message for message in library), "urllib3 logged no request line"
    for record in caplog.records:
        assert SENTINEL not in record.getMessage()
        assert "SENTINEL-TOKEN" not in record.getMessage()


# -- check -------------------------------------------------------------------------------------


def test_check_names_the_bot_and_the_channel(channel: TelegramChannel) -> None:
    assert channel.check() == "bot @campagne_bot can post to @campagne"


def test_check_with_a_rejected_token_says_token_rejected(server: FakeTelegram) -> None:
    adapter = channel_for(server, token="999:wrong")
    with pytest.raises(Rejected) as caught:
        adapter.check()
    adapter.close()
    assert caught.value.reason == "token rejected"


def test_check_with_a_malformed_token_answered_404_also_says_token_rejected(
    server: FakeTelegram,
) -> None:
    server.fail("GET", "/bot", 404, {"ok": False, "error_code": 404, "description": "Not Found"})
    adapter = channel_for(server)
    with pytest.raises(Rejected) as caught:
        adapter.check()
    adapter.close()
    assert caught.value.reason == "token rejected"


def test_check_of_a_bot_that_is_no_administrator_is_rejected(server: FakeTelegram) -> None:
    server.bot_status = "member"
    adapter = channel_for(server)
    with pytest.raises(Rejected, match="cannot post to @campagne"):
        adapter.check()
    adapter.close()


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"chat_id": "@c"}, "`token` is missing"),
        ({"token": "12:abc/../../x?y", "chat_id": "@c"}, "`token` has characters"),
        ({"token": SENTINEL}, "`chat_id`"),
        ({"token": SENTINEL, "chat_id": "@c", "parse_mode": "Markdown"}, "`parse_mode`"),
    ],
)
def test_bad_settings_are_config_errors_that_never_quote_the_token(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        TelegramChannel("telegram-nl", settings)
    assert "abc/../" not in str(caught.value)
    assert SENTINEL not in str(caught.value)
