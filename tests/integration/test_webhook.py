"""The webhook adapter against a fake receiver over real HTTP, in each format."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook, WebhookVerificationError

from scheduler.channels.webhook import SCHEMA, WebhookChannel, verify
from scheduler.errors import ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import LinkCard, MediaItem, RenderedPost
from scheduler.secrets import resolve
from tests.fakes.images import photo, traces
from tests.fakes.webhook_server import FakeWebhook
from tests.integration.daemon_helpers import campaign, now, states, write

SENTINEL = "SENTINEL-SECRET-7c1d"
TEXT = "Één 👩‍👧 #DoorbreekJIJDeStilte https://example.org/hulp"


def make_channel(settings: dict[str, Any], env: dict[str, str] | None = None) -> WebhookChannel:
    return WebhookChannel("hook", resolve(settings, env=env or {}))


def post(text: str = TEXT, **fields: Any) -> RenderedPost:
    return RenderedPost(post="2024/11-19-dag", channel="hook", text=text, **fields)


@pytest.fixture
def receiver() -> Iterator[FakeWebhook]:
    with FakeWebhook(flavor="json", secret=SENTINEL) as hook:
        yield hook


@pytest.fixture
def json_channel(receiver: FakeWebhook) -> Iterator[WebhookChannel]:
    channel = make_channel(
        {"url": receiver.url, "secret": "${HOOK_SECRET}", "headers": {"X-Campaign": "stilte"}},
        env={"HOOK_SECRET": SENTINEL},
    )
    yield channel
    channel.close()


def flavored(hook: FakeWebhook, kind: str, url: str | None = None) -> WebhookChannel:
    return make_channel({"url": url or hook.url, "format": kind})


def test_json_payload_follows_the_versioned_schema(
    receiver: FakeWebhook, json_channel: WebhookChannel, tmp_path: Path
) -> None:
    image = MediaItem(path=photo(tmp_path / "kind.jpg"), alt="Een kind aan tafel")
    card = LinkCard(title="Hulp", description="Gratis en anoniem")

    receipt = json_channel.publish(post(media=(image,), card=card, title="Dag"), "key-1")

    (request,) = receiver.posted
    body = request.json()
    assert body["schema"] == SCHEMA == "campaign-scheduler.post/1"
    assert {k: body[k] for k in ("key", "post", "channel", "title", "text", "language")} == {
        "key": "key-1",
        "post": "2024/11-19-dag",
        "channel": "hook",
        "title": "Dag",
        "text": TEXT,
        "language": "nl",
    }
    [media] = body["media"]
    assert (media["path"], media["alt"]) == (str(image.path), "Een kind aan tafel")
    assert traces(Path(media["rendition"]).read_bytes()) == []  # a copy without EXIF, XMP or GPS to pass on
    assert body["card"] == {"title": "Hulp", "description": "Gratis en anoniem"}
    assert body["sent_at"].endswith("Z")
    assert receipt.remote_id == "receipt-1"


def test_the_signature_verifies_over_the_raw_body_bytes(receiver: FakeWebhook, json_channel: WebhookChannel) -> None:
    json_channel.publish(post(), "key-1")

    (request,) = receiver.posted
    signature = request.headers["x-campaign-signature-256"]
    assert signature.startswith("sha256=")
    assert verify(SENTINEL, request.body, signature)
    assert "Één 👩‍👧".encode() in request.body  # signed as UTF-8, not as \\u escapes
    assert not verify(SENTINEL, request.body + b" ", signature)
    assert not verify("another-secret", request.body, signature)


def test_the_standard_webhooks_signature_covers_the_delivery_id_the_time_and_the_body(
    receiver: FakeWebhook, json_channel: WebhookChannel
) -> None:
    before = datetime.now(UTC)
    json_channel.publish(post(), "cs-0123456789abcdef")
    json_channel.publish(post(), "cs-0123456789abcdef")  # a person sends it again: the same id

    first, again = receiver.posted  # both verified by the standardwebhooks package (the fake refuses otherwise)
    assert first.headers["webhook-id"] == again.headers["webhook-id"] == "cs-0123456789abcdef"
    assert int(before.timestamp()) - 1 <= int(first.headers["webhook-timestamp"]) <= datetime.now(UTC).timestamp()
    assert first.headers["webhook-signature"].startswith("v1,")
    receiver_side = Webhook(SENTINEL.encode())
    receiver_side.verify(first.body, first.headers, json_parse=False)
    changed = [
        {**first.headers, "webhook-id": "cs-another"},
        {**first.headers, "webhook-timestamp": str(int(first.headers["webhook-timestamp"]) + 1)},
    ]
    for headers in changed:
        with pytest.raises(WebhookVerificationError):
            receiver_side.verify(first.body, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        receiver_side.verify(first.body + b" ", first.headers, json_parse=False)


def test_a_captured_request_is_refused_later_and_cannot_be_given_a_new_time(
    receiver: FakeWebhook, json_channel: WebhookChannel
) -> None:
    json_channel.publish(post(), "cs-captured")
    (captured,) = receiver.posted
    headers = {k: v for k, v in captured.headers.items() if k not in ("host", "content-length")}
    # The same request, as if captured ten minutes ago (signed then with the same key).
    then = datetime.now(UTC) - timedelta(minutes=10)
    old = {
        **headers,
        "webhook-timestamp": str(int(then.timestamp())),
        "webhook-signature": Webhook(SENTINEL.encode()).sign("cs-captured", then, captured.body),
    }
    refreshed = {**old, "webhook-timestamp": str(int(datetime.now(UTC).timestamp()))}
    for replay in (old, refreshed):
        answer = requests.post(receiver.url, data=captured.body, headers=replay, timeout=10)
        assert answer.status_code == 401
    assert len(receiver.posted) == 1


def test_while_a_secret_is_rotated_both_keys_sign_and_either_receiver_verifies() -> None:
    new = "whsec_" + base64.b64encode(b"a new key of thirty-two bytes!!!").decode()
    for receiver_secret in (new, SENTINEL):
        with FakeWebhook(flavor="json", secret=receiver_secret) as hook:
            channel = make_channel(
                {"url": hook.url, "secret": ["${NEW_SECRET}", "${OLD_SECRET}"]},
                env={"NEW_SECRET": new, "OLD_SECRET": SENTINEL},
            )
            try:
                channel.publish(post(), "cs-rotated")
            finally:
                channel.close()
            (request,) = hook.posted
            assert len(request.headers["webhook-signature"].split(" ")) == 2


def test_the_daemon_signs_with_both_secrets_listed_in_channels_yml_while_one_is_rotated(tmp_path: Path) -> None:
    with FakeWebhook(flavor="json", secret="the-old-secret") as hook:  # the receiver has not moved yet
        channels = (
            "channels:\n"
            "  hook:\n"
            f"    type: webhook\n    url: '{hook.url}'\n"
            "    secret:\n      - ${HOOK_SECRET_NEW}\n      - ${HOOK_SECRET}\n"
        )
        write(
            tmp_path,
            {"p": (now() - timedelta(minutes=1), "Een bericht.")},
            channels=channels,
            default_channels="[hook]",
        )
        new = "whsec_" + base64.b64encode(b"the new key, thirty-two bytes..!").decode()
        run = campaign(tmp_path, "run", "--once", env={"HOOK_SECRET_NEW": new, "HOOK_SECRET": "the-old-secret"})
        assert run.returncode == 0, run.stderr
        assert len(hook.posted) == 1
    assert states(tmp_path) == {("p", "hook"): "published"}


def test_the_old_body_only_header_is_still_sent_for_one_release_with_the_first_secret() -> None:
    with FakeWebhook(flavor="json", secret=SENTINEL, legacy=True) as hook:
        channel = make_channel({"url": hook.url, "secret": [SENTINEL, "the-other-secret"]})
        try:
            channel.publish(post(), "cs-legacy")
        finally:
            channel.close()
        (request,) = hook.posted
        assert verify(SENTINEL, request.body, request.headers["x-campaign-signature-256"])


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", ["ok-secret", 42]])
def test_a_secret_that_cannot_be_a_key_is_refused_without_showing_it(secret: Any) -> None:
    with pytest.raises(ConfigError) as refused:
        make_channel({"url": "https://example.org/hook", "secret": secret})
    assert "not base64" not in str(refused.value) and "ok-secret" not in str(refused.value)


def test_idempotency_key_content_type_and_extra_headers_are_sent(
    receiver: FakeWebhook, json_channel: WebhookChannel
) -> None:
    json_channel.publish(post(), "2024/11-19-dag:hook:v2")

    headers = receiver.posted[0].headers
    assert headers["idempotency-key"] == "2024/11-19-dag:hook:v2"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-campaign"] == "stilte"


def test_a_receiver_refusing_the_signature_is_rejected_with_its_words(
    receiver: FakeWebhook,
) -> None:
    channel = make_channel({"url": receiver.url, "secret": "not-the-shared-one"})
    try:
        with pytest.raises(Rejected, match="HTTP 401: invalid signature"):
            channel.publish(post(), "k")
    finally:
        channel.close()
    assert receiver.posted == []


def test_dropped_after_sending_is_in_doubt(receiver: FakeWebhook, json_channel: WebhookChannel) -> None:
    receiver.drop_next()

    with pytest.raises(InDoubt):
        json_channel.publish(post(), "k")

    assert len(receiver.posted) == 1


def test_503_is_retry_later(receiver: FakeWebhook, json_channel: WebhookChannel) -> None:
    receiver.respond_next(503, "upstream down", {"Retry-After": "12"})

    with pytest.raises(RetryLater, match="HTTP 503: upstream down") as caught:
        json_channel.publish(post(), "k")

    assert caught.value.after == 12.0


def test_a_redirect_is_rejected_not_followed_as_a_get(receiver: FakeWebhook, json_channel: WebhookChannel) -> None:
    receiver.respond_next(302, "", {"Location": receiver.base + "/elsewhere"})

    with pytest.raises(Rejected, match="HTTP 302"):
        json_channel.publish(post(), "k")

    assert len(receiver.received) == 1


def test_slack_gets_text_and_ok_means_published() -> None:
    with FakeWebhook(flavor="slack") as hook:
        channel = flavored(hook, "slack")
        receipt = channel.publish(post(), "k")
        channel.close()

    assert hook.posted[0].json() == {"text": TEXT}
    assert receipt.url is None and receipt.remote_id is None


def test_slack_404_channel_not_found_is_rejected_with_that_text() -> None:
    with FakeWebhook(flavor="slack") as hook:
        hook.respond_next(404, "channel_not_found")
        channel = flavored(hook, "slack")
        with pytest.raises(Rejected, match="HTTP 404: channel_not_found"):
            channel.publish(post(), "k")
        channel.close()


def test_slack_429_is_retry_later_after_retry_after() -> None:
    with FakeWebhook(flavor="slack") as hook:
        hook.respond_next(429, "rate_limited", {"Retry-After": "30"})
        channel = flavored(hook, "slack")
        with pytest.raises(RetryLater) as caught:
            channel.publish(post(), "k")
        channel.close()

    assert caught.value.after == 30.0


def test_images_on_a_text_only_format_are_rejected_not_dropped(tmp_path: Path) -> None:
    with FakeWebhook(flavor="slack") as hook:
        channel = flavored(hook, "slack")
        image = MediaItem(path=tmp_path / "a.png", alt="a")
        with pytest.raises(Rejected, match="carries no images"):
            channel.publish(post(media=(image,)), "k")
        channel.close()

    assert hook.received == []


def test_discord_waits_for_the_message_and_its_id_is_the_receipt() -> None:
    with FakeWebhook(flavor="discord") as hook:
        channel = flavored(hook, "discord", url=hook.url + "?thread_id=77")
        receipt = channel.publish(post(), "k")
        channel.close()

    (request,) = hook.posted
    assert request.query == {"thread_id": "77", "wait": "true"}
    assert request.json() == {"content": TEXT}
    assert receipt.remote_id == "1200000000000000001"


def test_discord_429_waits_for_the_retry_after_in_the_body() -> None:
    with FakeWebhook(flavor="discord") as hook:
        limited = {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}
        hook.respond_next(429, limited, {"Retry-After": "2"})
        channel = flavored(hook, "discord")
        with pytest.raises(RetryLater, match="You are being rate limited") as caught:
            channel.publish(post(), "k")
        channel.close()

    assert caught.value.after == 1.5


def test_discord_over_2000_characters_is_rejected_before_sending() -> None:
    with FakeWebhook(flavor="discord") as hook:
        channel = flavored(hook, "discord")
        with pytest.raises(Rejected, match="over the limit of 2000"):
            channel.publish(post("x" * 2001), "k")
        channel.close()

    assert hook.received == []


def test_teams_gets_an_adaptive_card_with_the_text() -> None:
    with FakeWebhook(flavor="teams") as hook:
        channel = flavored(hook, "teams")
        channel.publish(post(), "k")
        channel.close()

    body = hook.posted[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"] == [{"type": "TextBlock", "text": TEXT, "wrap": True}]


def test_teams_200_carrying_an_error_is_rejected() -> None:
    failure = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413"
    with FakeWebhook(flavor="teams") as hook:
        hook.respond_next(200, failure)
        channel = flavored(hook, "teams")
        with pytest.raises(Rejected, match="HTTP error 413"):
            channel.publish(post(), "k")
        channel.close()


def test_check_never_posts_and_takes_405_to_head_as_reachable(receiver: FakeWebhook) -> None:
    channel = make_channel({"url": receiver.url})
    try:
        result = channel.check()
    finally:
        channel.close()

    assert "reachable" in result and "405" in result
    assert [r.method for r in receiver.received] == ["HEAD"]


def test_check_of_a_deleted_hook_is_rejected(receiver: FakeWebhook) -> None:
    receiver.head_status = 404
    channel = make_channel({"url": receiver.url})
    try:
        with pytest.raises(Rejected, match="not found"):
            channel.check()
    finally:
        channel.close()


def test_check_of_an_unreachable_url_is_retry_later() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = make_channel({"url": f"http://127.0.0.1:{port}/hook"})
    try:
        with pytest.raises(RetryLater, match=r"^webhook unreachable"):
            channel.check()
    finally:
        channel.close()


def test_secrets_never_reach_errors_or_logs_even_when_echoed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    # A Slack URL is itself the credential; here it carries the sentinel in its path.
    with FakeWebhook(flavor="slack", path=f"/services/T0/B0/{SENTINEL}") as hook:
        slack = make_channel({"url": "${SLACK_URL}", "format": "slack"}, env={"SLACK_URL": hook.url})
        hook.echo_next()
        with pytest.raises(Rejected) as caught:
            slack.publish(post(), "k1")
        errors.append(str(caught.value))
        slack.publish(post(), "k2")
        slack.close()
    with FakeWebhook(flavor="json", secret=SENTINEL) as hook:
        settings = {
            "url": hook.url,
            "secret": "${HOOK_SECRET}",
            "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"},
        }
        signed = make_channel(settings, env={"HOOK_SECRET": SENTINEL, "HOOK_TOKEN": "tok-" + SENTINEL})
        hook.echo_next()
        with pytest.raises(Rejected) as caught:
            signed.publish(post(), "k3")
        errors.append(str(caught.value))
        signed.close()

    assert all("***" in error for error in errors)  # the receivers did echo them
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    for text in [*errors, *(record.getMessage() for record in caplog.records)]:
        assert SENTINEL not in text


def exception_chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def test_a_secret_url_is_in_no_exception_chain_when_unreachable_or_dropped() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead_url = f"http://127.0.0.1:{port}/services/T0/B0/{SENTINEL}"
    raised: list[BaseException] = []
    dead = make_channel({"url": "${SLACK_URL}", "format": "slack"}, env={"SLACK_URL": dead_url})
    for attempt in (dead.check, lambda: dead.publish(post(), "k1")):
        with pytest.raises(RetryLater) as unreachable:
            attempt()
        raised.append(unreachable.value)
    dead.close()
    with FakeWebhook(flavor="slack", path=f"/services/T0/B0/{SENTINEL}") as hook:
        hook.drop_next()
        live = make_channel({"url": "${SLACK_URL}", "format": "slack"}, env={"SLACK_URL": hook.url})
        with pytest.raises(InDoubt) as dropped:
            live.publish(post(), "k2")
        raised.append(dropped.value)
        live.close()

    for error in raised:
        for link in exception_chain(error):
            assert SENTINEL not in str(link) and SENTINEL not in repr(link)
