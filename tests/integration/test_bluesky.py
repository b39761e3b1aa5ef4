"""The Bluesky adapter against a fake PDS over real HTTP."""

from __future__ import annotations

import io
import logging
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scheduler.channels.bluesky import BlueskyChannel
from scheduler.channels.bluesky_richtext import tid_for_key
from scheduler.errors import InDoubt, Rejected, RetryLater
from scheduler.posts import LinkCard, MediaItem, RenderedPost
from scheduler.secrets import resolve
from tests.fakes.bluesky_server import FakePDS, Reply, xrpc_error
from tests.fakes.images import photo

SINCE = datetime(2027, 11, 15, 8, 0, tzinfo=UTC)  # when the first attempt began (unused by Bluesky)

SENTINEL = "SENTINEL-SECRET-7c1d"
CREATE = "com.atproto.repo.createRecord"


@pytest.fixture
def pds() -> Iterator[FakePDS]:
    with FakePDS(password=SENTINEL, handles={"hulp.bsky.social": "did:plc:hulp"}) as server:
        yield server


def make_channel(pds_url: str, handle: str = "campagne.test", password: str = SENTINEL) -> BlueskyChannel:
    raw = {"handle": handle, "app_password": "${BSKY_APP_PASSWORD}", "pds": pds_url}
    return BlueskyChannel("bluesky", resolve(raw, env={"BSKY_APP_PASSWORD": password}))


@pytest.fixture
def channel(pds: FakePDS) -> Iterator[BlueskyChannel]:
    ch = make_channel(pds.url)
    yield ch
    ch.close()


def post(text: str = "Praat erover. #DoorbreekDeStilte", **fields: Any) -> RenderedPost:
    return RenderedPost(post="2024/11-19-dag", channel="bluesky", text=text, **fields)


def test_one_login_serves_many_posts(pds: FakePDS, channel: BlueskyChannel) -> None:
    receipts = [channel.publish(post(f"Bericht {n}"), f"key-{n}") for n in range(6)]

    assert pds.logins == 1
    assert len(pds.records) == 6
    rkey = tid_for_key("key-3")
    assert receipts[3].url == f"https://bsky.app/profile/campagne.test/post/{rkey}"
    assert receipts[3].remote_id == f"at://{pds.did}/app.bsky.feed.post/{rkey}"
    record = pds.records[rkey]["value"]
    assert record["text"] == "Bericht 3" and record["langs"] == ["nl"]
    assert record["createdAt"].endswith("Z")


def test_concurrent_posts_share_one_login(pds: FakePDS, channel: BlueskyChannel) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: channel.publish(post(f"Parallel {n}"), f"par-{n}"), range(16)))

    assert pds.logins == 1
    assert len(pds.records) == 16


def test_expired_access_token_is_refreshed_without_a_second_login(pds: FakePDS, channel: BlueskyChannel) -> None:
    channel.publish(post("Eerste"), "k1")
    pds.expire_access_tokens()

    channel.publish(post("Tweede"), "k2")

    assert (pds.logins, pds.refreshes, len(pds.records)) == (1, 1, 2)


def test_refused_refresh_falls_back_to_one_new_login(pds: FakePDS, channel: BlueskyChannel) -> None:
    channel.publish(post("Eerste"), "k1")
    pds.expire_access_tokens()
    pds.fail_next("com.atproto.server.refreshSession", xrpc_error(400, "ExpiredToken", "Token has expired"))

    channel.publish(post("Tweede"), "k2")

    assert (pds.logins, len(pds.records)) == (2, 2)


def test_images_are_uploaded_and_embedded_with_their_alt_text(
    pds: FakePDS, channel: BlueskyChannel, tmp_path: Path
) -> None:
    media = []
    for n in range(2):
        path = photo(tmp_path / f"beeld{n}.png", (400 + n, 300))
        media.append(MediaItem(path=path, alt=f"Een kind met een knuffel ({n})"))

    channel.publish(post("Met beelden https://example.org", media=tuple(media)), "img")

    (record,) = pds.posts
    embed = record["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [image["alt"] for image in embed["images"]] == [item.alt for item in media]
    assert pds.count("com.atproto.repo.uploadBlob") == 2
    uploaded = [pds.blobs[image["image"]["ref"]["$link"]] for image in embed["images"]]
    assert [mime for _, mime in uploaded] == ["image/png", "image/png"]  # a PNG without alpha stays one
    assert [Image.open(io.BytesIO(data)).size for data, _ in uploaded] == [(400, 300), (401, 300)]  # not scaled
    assert [image["aspectRatio"] for image in embed["images"]] == [
        {"width": 400, "height": 300},
        {"width": 401, "height": 300},
    ]
    assert pds.image_traces == []  # the rendition went out: no EXIF, XMP or GPS


def test_a_file_that_is_no_image_is_rejected_before_anything_is_sent(
    pds: FakePDS, channel: BlueskyChannel, tmp_path: Path
) -> None:
    path = tmp_path / "groot.jpg"
    path.write_bytes(b"\xff" * 1_000_001)

    with pytest.raises(Rejected, match=r"groot\.jpg cannot go to Bluesky: it is not an image"):
        channel.publish(post(media=(MediaItem(path=path, alt="groot"),)), "big")

    assert pds.count("com.atproto.repo.uploadBlob") == 0 and pds.records == {}


def test_the_link_card_takes_title_and_description_from_the_post(pds: FakePDS, channel: BlueskyChannel) -> None:
    card = LinkCard(title="Hulp zoeken", description="Anoniem en gratis")

    channel.publish(post("Lees https://example.org/hulp en https://example.org/meer", card=card), "card")

    (record,) = pds.posts
    assert record["embed"] == {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": "https://example.org/hulp",
            "title": "Hulp zoeken",
            "description": "Anoniem en gratis",
        },
    }


def test_the_record_has_facets_and_an_unknown_mention_stays_plain(pds: FakePDS, channel: BlueskyChannel) -> None:
    text = "Één 👩‍👧 #DoorbreekJIJDeStilte @hulp.bsky.social @onbekend.example https://example.org"

    channel.publish(post(text), "facets")

    (record,) = pds.posts
    raw = text.encode()
    marked = {raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(): f["features"][0] for f in record["facets"]}
    assert marked == {
        "#DoorbreekJIJDeStilte": {
            "$type": "app.bsky.richtext.facet#tag",
            "tag": "DoorbreekJIJDeStilte",
        },
        "@hulp.bsky.social": {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:hulp"},
        "https://example.org": {
            "$type": "app.bsky.richtext.facet#link",
            "uri": "https://example.org",
        },
    }


def test_429_is_retry_later_after_the_ratelimit_reset(pds: FakePDS, channel: BlueskyChannel) -> None:
    pds.rate_limit_next(CREATE, reset_in=120)

    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), "limited")

    assert caught.value.after is not None and 100 < caught.value.after <= 120
    assert pds.records == {}


def test_a_login_rate_limit_is_retry_later_not_another_login(pds: FakePDS, channel: BlueskyChannel) -> None:
    pds.rate_limit_next("com.atproto.server.createSession", reset_in=300)

    with pytest.raises(RetryLater, match="login limit") as caught:
        channel.publish(post(), "k")

    assert caught.value.after is not None and caught.value.after > 250
    assert pds.count("com.atproto.server.createSession") == 1


def test_a_server_error_is_retry_later_and_nothing_is_posted(pds: FakePDS, channel: BlueskyChannel) -> None:
    pds.fail_next(CREATE, xrpc_error(502, "UpstreamFailure", "Bad Gateway"))

    with pytest.raises(RetryLater, match="502"):
        channel.publish(post(), "k")

    assert pds.records == {}


def test_another_4xx_is_rejected_with_the_xrpc_error(pds: FakePDS, channel: BlueskyChannel) -> None:
    pds.fail_next(CREATE, xrpc_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: bad langs"))

    with pytest.raises(Rejected, match=re.escape("InvalidRequest: Invalid app.bsky.feed.post record: bad langs")):
        channel.publish(post(), "k")


def test_too_long_a_text_is_rejected_without_a_request(pds: FakePDS, channel: BlueskyChannel) -> None:
    with pytest.raises(Rejected, match="301 graphemes"):
        channel.publish(post("x" * 301), "long")

    assert pds.count(CREATE) == 0


def test_dropped_after_create_is_in_doubt_then_lookup_finds_it_and_a_retry_posts_nothing_new(
    pds: FakePDS, channel: BlueskyChannel
) -> None:
    pds.drop_after_next(CREATE)

    with pytest.raises(InDoubt):
        channel.publish(post("Eén keer"), "once")
    found = channel.lookup("once", post(), SINCE)
    again = channel.publish(post("Eén keer"), "once")

    assert found is not None and found.url is not None and found.url.endswith(tid_for_key("once"))
    assert again == found
    assert len(pds.records) == 1 and pds.count(CREATE) == 2


def test_an_explicit_already_exists_error_also_resolves_to_the_existing_record(
    pds: FakePDS, channel: BlueskyChannel
) -> None:
    pds.duplicate_status = 409
    first = channel.publish(post("Eén keer"), "once")

    second = channel.publish(post("Eén keer"), "once")

    assert second == first and len(pds.records) == 1


def test_lookup_of_a_key_never_published_is_none(channel: BlueskyChannel) -> None:
    assert channel.lookup("never", post(), SINCE) is None


def test_lookup_that_cannot_tell_is_retry_later(pds: FakePDS, channel: BlueskyChannel) -> None:
    for _ in range(3):  # the shared session retries a GET twice on 503 by itself
        pds.fail_next("com.atproto.repo.getRecord", xrpc_error(503, "ServiceUnavailable", "try later"))

    with pytest.raises(RetryLater):
        channel.lookup("k", post(), SINCE)


def test_check_logs_in_once_and_says_as_whom(pds: FakePDS, channel: BlueskyChannel) -> None:
    assert channel.check() == f"logged in as campagne.test on {pds.url}"
    assert channel.check() == f"logged in as campagne.test on {pds.url}"
    assert pds.logins == 1


def test_check_with_a_bad_app_password_is_rejected(pds: FakePDS) -> None:
    channel = make_channel(pds.url, password="wrong-password-here")
    try:
        with pytest.raises(Rejected, match=r"^app password rejected for campagne\.test"):
            channel.check()
    finally:
        channel.close()


def test_check_of_an_unreachable_pds_is_retry_later() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = make_channel(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(RetryLater, match=r"^PDS unreachable"):
            channel.check()
    finally:
        channel.close()


def test_the_app_password_and_tokens_never_reach_errors_or_logs(pds: FakePDS, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pds.echo_credentials = True
    wrong = make_channel(pds.url, password="other-" + SENTINEL)
    pds.password = "the-real-one"
    errors: list[str] = []
    try:
        with pytest.raises(Rejected) as caught:
            wrong.check()
        errors.append(str(caught.value))
        pds.password = "other-" + SENTINEL
        pds.echo_credentials = False
        wrong.check()  # logs in, so the next call carries an access token
        pds.echo_credentials = True
        with pytest.raises(Rejected) as caught:
            wrong.publish(post(), "echo")
        errors.append(str(caught.value))
    finally:
        wrong.close()

    assert "***" in errors[0] and "***" in errors[1]  # the server did echo them
    logged = [record.getMessage() for record in caplog.records]
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    for text in [*errors, *logged]:
        assert SENTINEL not in text
        assert "eyJ." not in text  # no access or refresh token either


def test_publishing_again_after_a_server_error_makes_exactly_one_post(pds: FakePDS, channel: BlueskyChannel) -> None:
    pds.fail_next(CREATE, Reply(500, {"error": "InternalServerError", "message": "Internal Server Error"}))

    with pytest.raises(RetryLater):
        channel.publish(post(), "k")
    channel.publish(post(), "k")
    channel.publish(post(), "k")

    assert len(pds.records) == 1


def test_lookup_with_a_refused_login_cannot_say_rather_than_rejects(pds: FakePDS) -> None:
    channel = make_channel(pds.url, password="wrong-password-here")
    try:
        with pytest.raises(RetryLater, match="app password rejected"):
            channel.lookup("k", post(), SINCE)
    finally:
        channel.close()
