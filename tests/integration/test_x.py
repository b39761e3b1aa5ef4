"""XChannel against a fake X API v2 over real HTTP, and the daemon publishing to it as a real process."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scheduler.channels.registry import adapter_class
from scheduler.channels.x import XChannel, same_text
from scheduler.content.networks import limits_for
from scheduler.errors import ChannelError, ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import MediaItem, RenderedPost
from tests.fakes.images import photo
from tests.fakes.server import Reply, Request
from tests.fakes.x_server import ACCESS_TOKEN, ACCESS_TOKEN_SECRET, CONSUMER_KEY, CONSUMER_SECRET, FakeX
from tests.integration.daemon_helpers import campaign, daemon, ledger, now, states, write

TEXT = "Praat erover & kijk niet weg: https://example.org/hulp of bel kindertelefoon.nl. #geweld"
SENTINEL_CONSUMER = "SENTINEL-CONSUMER-SECRET-4b1d"
SENTINEL_TOKEN = "SENTINEL-TOKEN-SECRET-77e2"


def settings_for(server: FakeX, **overrides: str) -> dict[str, Any]:
    return {
        "api": server.url,
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "access_token": ACCESS_TOKEN,
        "access_token_secret": ACCESS_TOKEN_SECRET,
        **overrides,
    }


@pytest.fixture
def server() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def channel(server: FakeX) -> Iterator[XChannel]:
    adapter = XChannel("x-nl", settings_for(server))
    yield adapter
    adapter.close()


def post(text: str = TEXT, media: tuple[MediaItem, ...] = ()) -> RenderedPost:
    return RenderedPost(post="2024/week-47", channel="x-nl", text=text, media=media)


def image(tmp_path: Path, name: str = "handen.png", data: bytes | None = None) -> MediaItem:
    """A photo made by Pillow (with GPS EXIF and XMP), or a file of `data`."""
    path = tmp_path / name
    if data is None:
        photo(path)
    else:
        path.write_bytes(data)
    return MediaItem(path=path, alt="Twee volwassen handen houden een kinderhand vast.")


def calls(server: FakeX, method: str, path: str) -> list[Request]:
    return [r for r in server.requests if (r.method, r.path) == (method, path)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- publishing --------------------------------------------------------------------------------


def test_text_post_is_signed_with_oauth1_that_the_server_verifies(channel: XChannel, server: FakeX) -> None:
    receipt = channel.publish(post(), key="key-text")

    [created] = server.posts
    assert created["sent_text"] == TEXT
    assert receipt.remote_id == created["id"]
    assert receipt.url == f"https://x.com/weektegenkm/status/{created['id']}"
    assert server.refused == []
    for request in server.requests:  # every call signed, and each signature checked by the fake
        authorization = request.headers["authorization"]
        assert authorization.startswith("OAuth ")
        assert 'oauth_signature_method="HMAC-SHA1"' in authorization
        assert CONSUMER_SECRET not in authorization and ACCESS_TOKEN_SECRET not in authorization


def test_username_is_asked_once_per_adapter(channel: XChannel, server: FakeX) -> None:
    for number in range(3):
        channel.publish(post(f"Bericht {number}."), key=f"key-{number}")
    assert len(calls(server, "GET", "/2/users/me")) == 1
    assert len(server.posts) == 3


@pytest.mark.parametrize(
    ("setting", "wrong"),
    [("consumer_secret", "not-the-consumer-secret"), ("access_token_secret", "not-the-token-secret")],
)
def test_a_wrong_secret_fails_the_signature_and_is_rejected_saying_what_to_do(
    server: FakeX, setting: str, wrong: str
) -> None:
    adapter = XChannel("x-nl", settings_for(server, **{setting: wrong}))
    with pytest.raises(Rejected) as caught:
        adapter.publish(post(), key="key-401")
    adapter.close()

    assert server.refused == ["signature mismatch"]
    assert server.posts == [] and calls(server, "POST", "/2/tweets") == []
    reason = caught.value.reason
    assert reason.startswith("channel x-nl: X refused the keys")
    assert "HTTP 401" in reason
    assert '"Read and write"' in reason and "regenerate the access token" in reason


def test_image_is_uploaded_with_its_category_and_alt_text_then_attached(
    tmp_path: Path, channel: XChannel, server: FakeX
) -> None:
    item = image(tmp_path)
    receipt = channel.publish(post(media=(item,)), key="key-media")

    [upload] = calls(server, "POST", "/2/media/upload")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert upload.value("media_category") == "tweet_image"
    [(media_id, media)] = server.media.items()
    assert Image.open(io.BytesIO(media["upload"].data)).size == (400, 300)
    assert media["upload"].content_type == "image/png"
    assert server.image_traces == []  # the rendition went out: no EXIF, XMP or GPS
    assert media["alt"] == item.alt
    [created] = server.posts
    assert created["media_ids"] == [media_id]
    assert receipt.remote_id == created["id"]
    assert server.refused == []  # multipart and JSON bodies signed right as well


def test_more_than_four_images_or_one_that_is_no_image_is_rejected_before_any_upload(
    tmp_path: Path, channel: XChannel, server: FakeX
) -> None:
    five = tuple(image(tmp_path, f"beeld-{n}.png") for n in range(5))
    with pytest.raises(Rejected, match="5 images, X takes at most 4"):
        channel.publish(post(media=five), key="key-five")
    large = image(tmp_path, "groot.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 5_000_000)
    with pytest.raises(Rejected, match=r"groot\.png cannot go to X: it is not an image"):
        channel.publish(post(media=(large,)), key="key-large")
    long_alt = MediaItem(path=five[0].path, alt="a" * 1001)
    with pytest.raises(Rejected, match=r"alt text of beeld-0\.png is 1001 characters, X takes 1000"):
        channel.publish(post(media=(long_alt,)), key="key-alt")
    assert calls(server, "POST", "/2/media/upload") == [] and server.posts == []


def test_text_over_280_weighted_characters_is_rejected_without_sending(channel: XChannel, server: FakeX) -> None:
    with pytest.raises(Rejected, match="280"):
        channel.publish(post("Geweld " + "é" * 300), key="key-long")
    assert calls(server, "POST", "/2/tweets") == []


def test_a_reply_carries_in_reply_to_tweet_id(channel: XChannel, server: FakeX) -> None:
    first = channel.publish(post("Deel 1/2."), key="key-part-1")
    assert first.remote_id is not None
    channel._send_post(post("Deel 2/2."), in_reply_to=first.remote_id)
    assert [p["reply_to"] for p in server.posts] == [None, first.remote_id]


# -- errors ------------------------------------------------------------------------------------


def test_rate_limited_post_waits_until_x_rate_limit_reset(channel: XChannel, server: FakeX) -> None:
    reset = int(time.time()) + 120
    body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
    server.fail("POST", "/2/tweets", 429, body, headers)
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key="key-429")
    assert caught.value.after is not None
    assert 110 < caught.value.after <= 120
    assert "Too Many Requests" in caught.value.reason
    assert server.posts == []


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_retry_later_and_the_reset_header_is_not_a_wait(
    channel: XChannel, server: FakeX, status: int
) -> None:
    body = {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": status}
    server.fail("POST", "/2/tweets", status, body, {"x-rate-limit-reset": str(int(time.time()) + 900)})
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key=f"key-{status}")
    assert caught.value.after is None
    assert server.posts == []


def test_invalid_request_problem_json_becomes_a_readable_message(channel: XChannel, server: FakeX) -> None:
    body = {
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
        "errors": [{"parameters": {"text": ["..."]}, "message": "The `text` field is not valid"}],
    }
    server.fail("POST", "/2/tweets", 400, body)
    with pytest.raises(Rejected) as caught:
        channel.publish(post(), key="key-400")
    assert caught.value.reason == (
        "X: HTTP 400: Invalid Request: One or more parameters to your request was invalid.: "
        "The `text` field is not valid"
    )


def test_a_read_only_token_is_rejected_saying_to_regenerate_it_with_read_and_write(
    channel: XChannel, server: FakeX
) -> None:
    body = {
        "title": "Forbidden",
        "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
        "type": "https://api.twitter.com/2/problems/oauth1-permissions",
        "status": 403,
    }
    server.fail("POST", "/2/tweets", 403, body)
    with pytest.raises(Rejected) as caught:
        channel.publish(post(), key="key-read-only")
    assert caught.value.reason.startswith("channel x-nl: the access token may not post")
    assert '"Read and write"' in caught.value.reason


def test_other_forbidden_answers_are_rejected_with_xs_words(channel: XChannel, server: FakeX) -> None:
    server.fail(
        "POST", "/2/tweets", 403, {"title": "Forbidden", "detail": "This account is suspended.", "type": "about:blank"}
    )
    with pytest.raises(Rejected, match=r"^X: HTTP 403: Forbidden: This account is suspended\.$"):
        channel.publish(post(), key="key-403")


def test_a_lost_answer_after_x_committed_the_post_is_in_doubt(channel: XChannel, server: FakeX) -> None:
    channel.check()  # the account is known, so only the post is in flight
    server.drop_after_processing("POST", "/2/tweets")
    with pytest.raises(InDoubt):
        channel.publish(post(), key="key-dropped")
    assert len(server.posts) == 1  # it did go out


def test_a_lost_upload_answer_is_retry_later_and_posts_nothing(
    tmp_path: Path, channel: XChannel, server: FakeX
) -> None:
    channel.check()
    server.drop_after_processing("POST", "/2/media/upload")
    with pytest.raises(RetryLater):
        channel.publish(post(media=(image(tmp_path),)), key="key-upload-lost")
    assert server.posts == []


def test_x_gone_before_posting_is_retry_later_not_in_doubt(server: FakeX) -> None:
    adapter = XChannel("x-nl", settings_for(server))
    adapter.check()
    server.stop()
    with pytest.raises(RetryLater, match=r"^X unreachable"):
        adapter.publish(post(), key="key-gone")
    adapter.close()


# -- duplicates and lookup ---------------------------------------------------------------------


def test_duplicate_403_is_settled_by_finding_the_post_and_never_makes_a_second(
    channel: XChannel, server: FakeX
) -> None:
    channel.check()
    server.drop_after_processing("POST", "/2/tweets")
    with pytest.raises(InDoubt):
        channel.publish(post(), key="key-dup")

    receipt = channel.publish(post(), key="key-dup")  # X answers 403 duplicate content

    [created] = server.posts
    assert receipt.remote_id == created["id"]
    assert receipt.url == f"https://x.com/weektegenkm/status/{created['id']}"
    assert len(calls(server, "POST", "/2/tweets")) == 2  # the duplicate was asked once, never retried
    assert len(calls(server, "GET", "/2/users/1500000000000000001/tweets")) == 1


def test_duplicate_403_without_the_post_on_the_timeline_is_in_doubt(channel: XChannel, server: FakeX) -> None:
    detail = "You are not allowed to create a Tweet with duplicate content."
    server.fail("POST", "/2/tweets", 403, {"title": "Forbidden", "detail": detail, "type": "about:blank"})
    with pytest.raises(InDoubt, match="duplicate"):
        channel.publish(post(), key="key-dup-unseen")
    assert server.posts == []
    assert len(calls(server, "POST", "/2/tweets")) == 1


def test_lookup_finds_the_post_although_x_shortened_its_links_and_escaped_it(
    tmp_path: Path, channel: XChannel, server: FakeX
) -> None:
    since = datetime.now(UTC)
    for number in range(120):  # more than one page of the timeline after it
        channel.publish(post(f"Ander bericht {number}."), key=f"other-{number}")
    with_image = post(media=(image(tmp_path),))
    published = channel.publish(with_image, key="key-wanted")
    for number in range(3):
        channel.publish(post(f"Nog een {number}."), key=f"after-{number}")
    assert "https://t.co/" in server.posts[120]["text"] and "&amp;" in server.posts[120]["text"]

    found = channel.lookup("key-wanted", with_image, since)

    assert found == published
    [request, *_] = calls(server, "GET", "/2/users/1500000000000000001/tweets")
    assert request.value("tweet.fields") == "created_at,text"
    assert request.value("start_time") == (since - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_lookup_of_a_post_not_on_x_is_in_doubt_never_none(channel: XChannel, server: FakeX) -> None:
    channel.publish(post("Een ander bericht."), key="key-other")
    with pytest.raises(InDoubt, match="no post with this text on @weektegenkm"):
        channel.lookup("key-missing", post(), datetime.now(UTC) - timedelta(minutes=5))


def test_lookup_only_searches_from_the_first_attempt(channel: XChannel, server: FakeX) -> None:
    channel.publish(post(), key="key-old")
    server.posts[0]["created_at"] = "2020-01-01T00:00:00.000Z"  # the same text, long ago
    with pytest.raises(InDoubt):
        channel.lookup("key-new", post(), datetime.now(UTC) - timedelta(minutes=5))


@pytest.mark.parametrize(
    ("ours", "theirs", "media", "same"),
    [
        ("Zie https://example.org/a.", "Zie https://t.co/abc.", False, True),
        ("Bel kindertelefoon.nl of 116 111", "Bel https://t.co/x1 of 116 111", False, True),
        ("Tom & Jerry <3", "Tom &amp; Jerry &lt;3", False, True),
        ("Met beeld.", "Met beeld. https://t.co/m3d1a", True, True),
        ("Met beeld.", "Met beeld. https://t.co/m3d1a", False, False),
        ("Zie https://example.org/a.", "Zie https://t.co/abc en meer.", False, False),
        ("Eén bericht.", "Een bericht.", False, False),
        ("Twee  spaties\nen regel", "Twee spaties en regel", False, True),
    ],
)
def test_same_text_survives_what_x_does_to_a_text(ours: str, theirs: str, media: bool, same: bool) -> None:
    assert same_text(ours, theirs, has_media=media) is same


# -- secrets -----------------------------------------------------------------------------------


def test_secrets_never_appear_in_errors_or_logs_even_when_x_echoes_them(
    server: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.consumer_secret, server.access_token_secret = SENTINEL_CONSUMER, SENTINEL_TOKEN
    echo = f"received {SENTINEL_CONSUMER} and {SENTINEL_TOKEN}"
    adapter = XChannel(
        "x-nl", settings_for(server, consumer_secret=SENTINEL_CONSUMER, access_token_secret=SENTINEL_TOKEN)
    )
    server.fail("GET", "/2/users/me", 401, {"title": "Unauthorized", "detail": echo, "type": "about:blank"})
    errors: list[ChannelError] = []
    with pytest.raises(Rejected) as caught:
        adapter.check()
    errors.append(caught.value)
    server.fail("POST", "/2/tweets", 400, {"title": "Invalid Request", "detail": echo, "type": "about:blank"})
    with pytest.raises(Rejected) as caught:
        adapter.publish(post(), key="key-sentinel")
    errors.append(caught.value)
    adapter.close()

    assert server.refused == []  # the sentinels are the right secrets: the requests were signed with them
    for error in errors:
        assert "***" in error.reason
        text = f"{error} {error.reason!r} {error.__context__} {error.__cause__}"
        assert SENTINEL_CONSUMER not in text and SENTINEL_TOKEN not in text
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    for record in caplog.records:
        assert SENTINEL_CONSUMER not in record.getMessage() and SENTINEL_TOKEN not in record.getMessage()


# -- check and configuration -------------------------------------------------------------------


def test_check_names_the_account_and_whether_its_replies_can_be_read(channel: XChannel, server: FakeX) -> None:
    host = server.url.removeprefix("http://")
    assert (
        channel.check() == f"authenticated as @weektegenkm on {host}; replies are read (recent search, the last 7 days)"
    )
    server.search_allowed = False  # a plan without search
    assert channel.check().endswith(
        "replies are not read: this app's X plan has no recent search; watch them on x.com by hand"
    )
    assert calls(server, "POST", "/2/tweets") == []


def test_check_with_bad_keys_names_the_channel_and_what_to_do(server: FakeX) -> None:
    adapter = XChannel("x-nl", settings_for(server, consumer_key="someone-elses-app"))
    with pytest.raises(Rejected) as caught:
        adapter.check()
    adapter.close()
    assert server.refused == ["unknown consumer key"]
    assert caught.value.reason.startswith("channel x-nl: X refused the keys (X: HTTP 401: Unauthorized)")
    assert '"Read and write"' in caught.value.reason


def test_check_of_an_unreachable_api_is_retry_later() -> None:
    nowhere = {
        "api": f"http://127.0.0.1:{free_port()}",
        **{k: "some-value" for k in ("consumer_key", "consumer_secret", "access_token", "access_token_secret")},
    }
    adapter = XChannel("x-nl", nowhere)
    with pytest.raises(RetryLater, match=r"^X unreachable \(127\.0\.0\.1:"):
        adapter.check()
    adapter.close()


def test_registry_finds_the_adapter_and_its_limits() -> None:
    assert adapter_class("x") is XChannel
    limits = limits_for("x", {})
    assert (limits.length.limit, limits.media.max_items, limits.media.max_bytes) == (280, 4, 5_000_000)
    assert limits.length.measure("https://example.org/" + "a" * 100) == 23


@pytest.mark.parametrize("missing", ["consumer_key", "consumer_secret", "access_token", "access_token_secret"])
def test_a_missing_key_is_a_config_error_that_never_quotes_a_secret(missing: str) -> None:
    settings = {
        "consumer_key": "key",
        "consumer_secret": SENTINEL_CONSUMER,
        "access_token": "x-access-token-7f3a",  # remembered as a secret: never an ordinary word
        "access_token_secret": SENTINEL_TOKEN,
    }
    del settings[missing]
    with pytest.raises(ConfigError, match=f"`{missing}: \\$\\{{X_{missing.upper()}\\}}`") as caught:
        XChannel("x-nl", settings)
    assert SENTINEL_CONSUMER not in str(caught.value) and SENTINEL_TOKEN not in str(caught.value)


# -- the daemon, as a process ------------------------------------------------------------------

SECRETS = {
    "X_CONSUMER_KEY": CONSUMER_KEY,
    "X_CONSUMER_SECRET": CONSUMER_SECRET,
    "X_ACCESS_TOKEN": ACCESS_TOKEN,
    "X_ACCESS_TOKEN_SECRET": ACCESS_TOKEN_SECRET,
}


def x_campaign(root: Path, server: FakeX, text: str = "Praat erover: https://example.org/hulp #geweld") -> None:
    channels = (
        "channels:\n"
        f"  x: {{type: x, api: '{server.url}', consumer_key: '${{X_CONSUMER_KEY}}',"
        " consumer_secret: '${X_CONSUMER_SECRET}', access_token: '${X_ACCESS_TOKEN}',"
        " access_token_secret: '${X_ACCESS_TOKEN_SECRET}'}\n"
    )
    write(root, {"p": (now() - timedelta(minutes=1), text)}, channels=channels, default_channels="[x]")


class KillingX(FakeX):
    """Kills the daemon once a post arrives: after committing it (`commit`) or before."""

    victim: int | None = None
    commit = True

    def handle(self, request: Request) -> Reply:
        if self.victim is None or (request.method, request.path) != ("POST", "/2/tweets"):
            return super().handle(request)
        reply = super().handle(request) if self.commit else Reply(201, {})
        os.kill(self.victim, signal.SIGKILL)
        self.victim = None
        time.sleep(0.5)
        return reply


def test_daemon_killed_after_the_request_left_is_settled_by_lookup_with_one_post(tmp_path: Path) -> None:
    with KillingX() as server:
        x_campaign(tmp_path, server)
        process = daemon(tmp_path, "--once", **SECRETS)
        server.victim = process.pid
        process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert states(tmp_path)[("p", "x")] == "sending"

        recovered = campaign(tmp_path, "run", "--once", env=SECRETS)
        assert recovered.returncode == 0, recovered.stderr
        again = campaign(tmp_path, "run", "--once", env=SECRETS)
        assert again.returncode == 0, again.stderr

        [created] = server.posts
        assert len(calls(server, "POST", "/2/tweets")) == 1
    assert states(tmp_path)[("p", "x")] == "published"
    [delivery] = json.loads(campaign(tmp_path, "status", "--format", "json").stdout)["deliveries"]
    assert delivery["url"] == f"https://x.com/weektegenkm/status/{created['id']}"
    assert "settled" in campaign(tmp_path, "history", "p").stdout


def test_daemon_killed_before_x_committed_is_in_doubt_and_alerted_never_resent(tmp_path: Path) -> None:
    with KillingX() as server:
        server.commit = False
        x_campaign(tmp_path, server)
        process = daemon(tmp_path, "--once", **SECRETS)
        server.victim = process.pid
        process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL

        for _ in range(2):
            after = campaign(tmp_path, "run", "--once", env=SECRETS)
            assert after.returncode == 0, after.stderr
        assert server.posts == []
        assert len(calls(server, "POST", "/2/tweets")) == 1
    assert states(tmp_path)[("p", "x")] == "in_doubt"
    book = ledger(tmp_path)
    assert [a.kind for a in book.alerts.latest()] == ["in_doubt"]
    book.close()
    assert "campaign resolve" in campaign(tmp_path, "status").stdout


def test_a_dropped_answer_in_a_running_daemon_is_settled_at_once_by_lookup(tmp_path: Path) -> None:
    with FakeX() as server:
        server.drop_after_processing("POST", "/2/tweets")
        x_campaign(tmp_path, server)
        run = campaign(tmp_path, "run", "--once", env=SECRETS)
        assert run.returncode == 0, run.stderr
        assert len(server.posts) == 1
        assert len(calls(server, "POST", "/2/tweets")) == 1
    assert states(tmp_path)[("p", "x")] == "published"
    assert "found on the network" in campaign(tmp_path, "history", "p").stdout


def test_sentinel_secrets_never_leave_the_process_even_when_x_echoes_them(tmp_path: Path) -> None:
    with FakeX(consumer_secret=SENTINEL_CONSUMER, access_token_secret=SENTINEL_TOKEN) as server:
        echo = {"title": "Forbidden", "detail": f"keys {SENTINEL_CONSUMER} {SENTINEL_TOKEN}", "type": "about:blank"}
        server.fail("POST", "/2/tweets", 403, echo)
        server.fail("GET", "/2/users/me", 401, {**echo, "title": "Unauthorized"})
        x_campaign(tmp_path, server)
        secrets = {**SECRETS, "X_CONSUMER_SECRET": SENTINEL_CONSUMER, "X_ACCESS_TOKEN_SECRET": SENTINEL_TOKEN}
        check = campaign(tmp_path, "channels", "check", env=secrets)
        run = campaign(tmp_path, "run", "--once", "--log-level", "DEBUG", env=secrets)
        status = campaign(tmp_path, "status", "--format", "json")
        text_status = campaign(tmp_path, "status")
        history = campaign(tmp_path, "history")
        assert server.refused == []  # the sentinels really signed the requests
    assert check.returncode == 1 and "channel x: X refused the keys" in check.stdout
    assert run.returncode == 0, run.stderr
    assert states(tmp_path)[("p", "x")] == "failed"
    dump = "\n".join(sqlite3.connect(tmp_path / "campaign.db").iterdump())
    assert "HTTP 403" in dump  # X's answer is kept, without the secrets
    for output in (
        check.stdout,
        check.stderr,
        run.stdout,
        run.stderr,
        status.stdout,
        text_status.stdout,
        history.stdout,
        dump,
    ):
        assert SENTINEL_CONSUMER not in output and SENTINEL_TOKEN not in output


def test_revoked_keys_fail_the_daemons_send_at_once_with_an_alert_naming_the_channel(tmp_path: Path) -> None:
    with FakeX(access_token_secret="the-secret-after-regenerating") as server:
        x_campaign(tmp_path, server)
        for _ in range(2):
            run = campaign(tmp_path, "run", "--once", env=SECRETS)
            assert run.returncode == 0, run.stderr
        assert server.refused == ["signature mismatch"]  # asked once, never retried
        assert calls(server, "POST", "/2/tweets") == []
    assert states(tmp_path)[("p", "x")] == "failed"
    book = ledger(tmp_path)
    [alert] = book.alerts.latest()
    book.close()
    assert (alert.kind, alert.channel) == ("failed", "x")
    assert "channel x: X refused the keys" in alert.message  # after what happened, in the campaign's language
    assert 'regenerate the access token and secret with "Read and write" permission' in alert.message
