"""FacebookChannel against a fake Graph API over real HTTP, and `campaign` processes publishing through it."""

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

from scheduler.channels.base import Receipt
from scheduler.channels.facebook import FacebookChannel
from scheduler.channels.registry import adapter_class
from scheduler.content.networks import limits_for
from scheduler.errors import ChannelError, ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import MediaItem, RenderedPost
from tests.fakes.facebook_server import PAGE_ID, TOKEN, FakeGraph, app_usage, buc_usage, graph_error
from tests.fakes.images import photo as camera_photo
from tests.fakes.server import Reply, Request
from tests.integration.daemon_helpers import campaign, daemon, ledger, now, states, write

SENTINEL = "SENTINEL-PAGE-TOKEN-5e1d"
TEXT = "Praat erover. Kindermishandeling stopt pas als we kijken. https://example.org/hulp #geweld"
ALT = "Twee volwassen handen houden een kinderhand vast."


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


def channel_for(graph: FakeGraph, **settings: Any) -> FacebookChannel:
    return FacebookChannel("facebook", {"page_id": PAGE_ID, "token": TOKEN, "graph": graph.url, **settings})


@pytest.fixture
def channel(graph: FakeGraph) -> Iterator[FacebookChannel]:
    adapter = channel_for(graph)
    yield adapter
    adapter.close()


def post(text: str = TEXT, media: tuple[MediaItem, ...] = ()) -> RenderedPost:
    return RenderedPost(post="2024/week-47", channel="facebook", text=text, media=media)


def image(tmp_path: Path, name: str = "handen.png", alt: str = ALT) -> MediaItem:
    path = camera_photo(tmp_path / name)  # made by Pillow, with GPS EXIF and XMP
    return MediaItem(path=path, alt=alt)


def posts_sent(graph: FakeGraph, edge: str) -> list[Request]:
    return [r for r in graph.requests if r.method == "POST" and r.path == f"/v25.0/{PAGE_ID}/{edge}"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- publishing --------------------------------------------------------------------------------


def test_text_goes_to_the_feed_with_its_first_link_as_the_preview(channel: FacebookChannel, graph: FakeGraph) -> None:
    text = "Lees meer: https://example.org/eerste en ook https://example.org/tweede"
    receipt = channel.publish(post(text), key="k-text")

    [sent] = graph.posts
    assert (sent["message"], sent["link"]) == (text, "https://example.org/eerste")
    number = sent["id"].split("_")[1]
    assert receipt.remote_id == sent["id"]
    assert receipt.url == f"https://www.facebook.com/{PAGE_ID}/posts/{number}"


def test_the_token_travels_in_the_body_of_every_post_never_in_its_url(
    tmp_path: Path, channel: FacebookChannel, graph: FakeGraph
) -> None:
    channel.publish(post(), key="k-1")
    channel.publish(post("Twee beelden.", media=(image(tmp_path, "a.png"), image(tmp_path, "b.png"))), key="k-2")
    posted = [r for r in graph.requests if r.method == "POST"]
    assert len(posted) == 4
    for request in posted:
        assert "access_token" not in request.query
        assert request.form["access_token"] == [TOKEN]


def test_the_graph_version_is_pinned_and_configurable(graph: FakeGraph) -> None:
    adapter = channel_for(graph, version="v26.0")
    adapter.publish(post(), key="k-version")
    adapter.close()
    assert [r.path for r in graph.requests] == [f"/v26.0/{PAGE_ID}/feed"]


def test_one_image_is_a_photo_post_with_its_message_and_alt_text(
    tmp_path: Path, channel: FacebookChannel, graph: FakeGraph
) -> None:
    receipt = channel.publish(post(media=(image(tmp_path),)), key="k-photo")

    [request] = posts_sent(graph, "photos")
    assert request.value("message") == TEXT
    assert request.value("alt_text_custom") == ALT
    assert Image.open(io.BytesIO(request.files["source"].data)).size == (400, 300)
    assert request.files["source"].content_type == "image/png"
    assert graph.image_traces == []  # the rendition went out: no EXIF, XMP or GPS
    [sent] = graph.posts
    assert sent["attached_media"] == [next(iter(graph.photos))]
    assert receipt.remote_id == sent["id"]
    assert receipt.url == sent["permalink_url"]
    assert posts_sent(graph, "feed") == []


def test_several_images_are_uploaded_unpublished_then_attached_to_one_feed_post(
    tmp_path: Path, channel: FacebookChannel, graph: FakeGraph
) -> None:
    items = tuple(image(tmp_path, f"beeld-{i}.png", alt=f"Beeld {i}") for i in range(3))
    receipt = channel.publish(post(media=items), key="k-album")

    uploads = posts_sent(graph, "photos")
    assert [r.value("published") for r in uploads] == ["false"] * 3
    assert [r.value("alt_text_custom") for r in uploads] == ["Beeld 0", "Beeld 1", "Beeld 2"]
    [feed] = posts_sent(graph, "feed")
    attached = [json.loads(feed.form[f"attached_media[{i}]"][0]) for i in range(3)]
    assert attached == [{"media_fbid": photo} for photo in graph.photos]
    [sent] = graph.posts
    assert sent["attached_media"] == list(graph.photos)
    assert sent["message"] == TEXT
    assert receipt.remote_id == sent["id"]


def test_too_many_images_or_one_that_is_no_image_are_rejected_before_anything_is_sent(
    tmp_path: Path, channel: FacebookChannel, graph: FakeGraph
) -> None:
    items = tuple(image(tmp_path, f"b{i}.png") for i in range(11))
    with pytest.raises(Rejected, match="11 images, Facebook takes at most 10"):
        channel.publish(post(media=items), key="k-eleven")
    big = tmp_path / "groot.jpg"
    big.write_bytes(b"\xff\xd8" + b"\0" * 10_000_000)
    with pytest.raises(Rejected, match=r"groot\.jpg cannot go to Facebook: it is not an image"):
        channel.publish(post(media=(MediaItem(big, "Groot."),)), key="k-big")
    assert graph.requests == []


# -- Graph errors ------------------------------------------------------------------------------


def test_an_expired_token_fails_at_once_naming_the_channel_and_what_to_do(graph: FakeGraph) -> None:
    adapter = channel_for(graph, token="an-expired-token")
    with pytest.raises(Rejected) as caught:
        adapter.publish(post(), key="k-190")
    adapter.close()
    reason = caught.value.reason
    assert reason.startswith("token rejected: Facebook refused the Page access token of channel facebook")
    assert "new long-lived Page access token" in reason
    assert "code 190/463" in reason and "fbtrace_id" in reason
    assert graph.posts == []


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_throttling_waits_as_long_as_the_business_use_case_header_says(
    channel: FacebookChannel, graph: FakeGraph, code: int
) -> None:
    headers = {"X-Business-Use-Case-Usage": buc_usage(PAGE_ID, percent=100, minutes=19), "X-App-Usage": app_usage()}
    graph.fail("POST", f"/v25.0/{PAGE_ID}/feed", 400, graph_error(code, "(#32) Page request limit reached"), headers)
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key=f"k-{code}")
    assert caught.value.after == 19 * 60
    assert "throttling" in caught.value.reason
    assert "X-Business-Use-Case-Usage: call_count 100%" in caught.value.reason
    assert graph.posts == []


def test_throttling_by_app_usage_names_it_and_honours_a_time_where_it_gives_one(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    feed = f"/v25.0/{PAGE_ID}/feed"
    body = graph_error(4, "(#4) Application request limit reached")
    graph.fail("POST", feed, 403, body, {"X-App-Usage": app_usage(100)})
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key="k-app")
    assert "X-App-Usage: call_count 100%" in caught.value.reason
    assert caught.value.after is None  # percentages only: the daemon's backoff decides

    graph.fail("POST", feed, 403, body, {"X-App-Usage": app_usage(100, estimated_time_to_regain_access=3)})
    with pytest.raises(RetryLater) as caught:
        channel.publish(post(), key="k-app-time")
    assert caught.value.after == 180


def test_usage_headers_on_an_ordinary_answer_do_not_count_as_throttling(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    headers = {"X-Business-Use-Case-Usage": buc_usage(PAGE_ID, percent=100, minutes=30)}
    graph.fail("POST", f"/v25.0/{PAGE_ID}/feed", 400, graph_error(100, "(#100) Invalid parameter"), headers)
    with pytest.raises(Rejected, match=r"Invalid parameter"):
        channel.publish(post(), key="k-100")


def test_a_blocked_post_is_rejected_and_never_retried(channel: FacebookChannel, graph: FakeGraph) -> None:
    body = graph_error(368, "The action attempted has been deemed abusive or is otherwise disallowed", subcode=1390008)
    graph.fail("POST", f"/v25.0/{PAGE_ID}/feed", 400, body)
    with pytest.raises(Rejected) as caught:
        channel.publish(post(), key="k-368")
    assert "blocked" in caught.value.reason and "code 368/1390008" in caught.value.reason
    assert len(posts_sent(graph, "feed")) == 1


def test_a_duplicate_answer_is_settled_by_finding_the_post_already_on_the_page(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    first = channel.publish(post(), key="k-dup")
    graph.duplicates = True
    again = channel.publish(post(), key="k-dup")
    sent = graph.posts[0]
    assert again == Receipt(url=sent["permalink_url"], remote_id=sent["id"])
    assert first.remote_id == again.remote_id
    assert len(graph.posts) == 1


def test_a_duplicate_answer_without_the_post_on_the_page_is_in_doubt(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    graph.fail("POST", f"/v25.0/{PAGE_ID}/feed", 400, graph_error(506, "(#506) Duplicate status message"))
    with pytest.raises(InDoubt, match="duplicate"):
        channel.publish(post(), key="k-506")
    assert graph.posts == []


@pytest.mark.parametrize(("status", "body"), [(500, graph_error(2, "Service temporarily unavailable")), (503, None)])
def test_a_server_error_is_retry_later(channel: FacebookChannel, graph: FakeGraph, status: int, body: Any) -> None:
    graph.fail("POST", f"/v25.0/{PAGE_ID}/feed", status, body if body is not None else b"upstream down")
    with pytest.raises(RetryLater):
        channel.publish(post(), key=f"k-{status}")
    assert graph.posts == []


def test_another_error_is_rejected_with_graphs_message_and_trace_id(channel: FacebookChannel, graph: FakeGraph) -> None:
    body = graph_error(100, "(#100) Param link must be a valid URL", kind="GraphMethodException")
    graph.fail("POST", f"/v25.0/{PAGE_ID}/feed", 400, body)
    with pytest.raises(Rejected) as caught:
        channel.publish(post(), key="k-other")
    reason = caught.value.reason
    assert "Param link must be a valid URL" in reason
    assert f"fbtrace_id {body['error']['fbtrace_id']}" in reason
    assert reason.startswith("Graph said: (#100)")


def test_graph_gone_before_posting_is_retry_later_not_in_doubt() -> None:
    adapter = FacebookChannel(
        "facebook", {"page_id": PAGE_ID, "token": TOKEN, "graph": f"http://127.0.0.1:{free_port()}"}
    )
    with pytest.raises(RetryLater, match="Graph unreachable"):
        adapter.publish(post(), key="k-gone")
    adapter.close()


# -- lost answers and lookup -------------------------------------------------------------------


def test_an_answer_dropped_after_the_post_was_made_is_in_doubt_and_the_lookup_finds_it(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    started = datetime.now(UTC)
    graph.drop_after_processing("POST", f"/v25.0/{PAGE_ID}/feed")
    with pytest.raises(InDoubt):
        channel.publish(post(), key="k-drop")
    [sent] = graph.posts

    found = channel.lookup("k-drop", post(), started)

    assert found is not None
    assert (found.remote_id, found.url) == (sent["id"], sent["permalink_url"])
    [listing] = [r for r in graph.requests if r.path.endswith("/posts")]
    assert listing.value("fields") == "id,message,created_time,permalink_url"
    assert int(listing.value("since") or 0) <= started.timestamp()


def test_lookup_pages_through_the_feed_and_ignores_older_posts(channel: FacebookChannel, graph: FakeGraph) -> None:
    channel.publish(post(), key="k-old")
    graph.posts[0]["created"] -= 3 * 86400  # three days ago: not this send
    for number in range(150):
        channel.publish(post(f"Ander bericht {number}."), key=f"k-{number}")
    with pytest.raises(InDoubt, match="no post with this message"):
        channel.lookup("k-new", post(), datetime.now(UTC) - timedelta(hours=1))
    listings = [r for r in graph.requests if r.path.endswith("/posts")]
    assert [r.value("after") for r in listings] == [None, "100"]


def test_lookup_that_cannot_ask_now_is_retry_later(channel: FacebookChannel, graph: FakeGraph) -> None:
    graph.fail("GET", f"/v25.0/{PAGE_ID}/posts", 500, graph_error(1, "An unknown error has occurred."))
    with pytest.raises(RetryLater, match="cannot look up"):
        channel.lookup("k", post(), datetime.now(UTC))


# -- secrets -----------------------------------------------------------------------------------


def test_the_token_never_reaches_errors_or_logs_even_when_graph_echoes_it(
    graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = FacebookChannel("facebook", {"page_id": PAGE_ID, "token": SENTINEL, "graph": graph.url})
    errors: list[ChannelError] = []
    for attempt in (adapter.check, lambda: adapter.publish(post(), key="k-sentinel")):
        with pytest.raises(Rejected) as caught:
            attempt()
        errors.append(caught.value)
    with pytest.raises(RetryLater) as lookup:
        adapter.lookup("k", post(), datetime.now(UTC))
    errors.append(lookup.value)
    adapter.close()

    assert any(r.value("access_token") == SENTINEL for r in graph.requests), "the fake must have received it"
    for error in errors:
        assert "token rejected" in error.reason
        assert SENTINEL not in f"{error} {error.reason!r} {error.__context__} {error.__cause__}"
    assert any(r.name.startswith("urllib3") and "access_token" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert SENTINEL not in record.getMessage()


# -- check -------------------------------------------------------------------------------------


def test_check_names_the_page(channel: FacebookChannel, graph: FakeGraph) -> None:
    assert channel.check() == f"Page Week tegen Kindermishandeling ({PAGE_ID}) on {graph.url}, Graph API v25.0"
    [request] = graph.requests
    assert (request.method, request.path, request.value("fields")) == ("GET", f"/v25.0/{PAGE_ID}", "name")


def test_check_with_a_wrong_page_id_says_so(graph: FakeGraph) -> None:
    adapter = FacebookChannel("facebook", {"page_id": "999", "token": TOKEN, "graph": graph.url})
    with pytest.raises(Rejected, match="Page 999 does not exist or this token cannot see it"):
        adapter.check()
    adapter.close()


def test_check_of_an_unreachable_graph_is_retry_later() -> None:
    adapter = FacebookChannel(
        "facebook", {"page_id": PAGE_ID, "token": TOKEN, "graph": f"http://127.0.0.1:{free_port()}"}
    )
    with pytest.raises(RetryLater, match=r"^Graph unreachable"):
        adapter.check()
    adapter.close()


# -- configuration -----------------------------------------------------------------------------


def test_registry_finds_the_adapter_and_its_limits() -> None:
    assert adapter_class("facebook") is FacebookChannel
    limits = limits_for("facebook", {})
    assert limits.length.limit == 63_206
    assert (limits.media.max_items, limits.media.max_bytes) == (10, 10_000_000)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"token": SENTINEL}, "`page_id`"),
        ({"page_id": "mijn-pagina", "token": SENTINEL}, "`page_id`"),
        ({"page_id": PAGE_ID}, "`token`"),
        ({"page_id": PAGE_ID, "token": SENTINEL, "graph": "graph.facebook.com"}, "`graph`"),
        ({"page_id": PAGE_ID, "token": SENTINEL, "version": "25"}, "`version`"),
    ],
)
def test_bad_settings_are_config_errors_that_never_quote_the_token(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        FacebookChannel("facebook", settings)
    assert SENTINEL not in str(caught.value)


# -- the campaign, as processes ----------------------------------------------------------------


class KillingGraph(FakeGraph):
    """Makes the post, then kills the daemon before answering: the request left, no answer came."""

    victim: int | None = None

    def handle(self, request: Request) -> Reply:
        reply = super().handle(request)
        if self.victim is not None and request.method == "POST" and request.path.endswith("/feed"):
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
            time.sleep(0.5)
        return reply


def facebook_channels(graph: FakeGraph, name: str = "facebook", reference: str = "FACEBOOK_PAGE_TOKEN") -> str:
    return (
        f"  {name}: {{type: facebook, page_id: '{graph.page_id}', graph: '{graph.url}', token: '${{{reference}}}'}}\n"
    )


def test_a_daemon_killed_after_the_post_left_settles_by_lookup_with_exactly_one_post(tmp_path: Path) -> None:
    with KillingGraph() as graph:
        write(
            tmp_path,
            {"p": (now() - timedelta(minutes=1), "Belangrijk nieuws. https://example.org/nieuws")},
            channels="channels:\n" + facebook_channels(graph),
            default_channels="[facebook]",
        )
        process = daemon(tmp_path, "--once", FACEBOOK_PAGE_TOKEN=TOKEN)
        graph.victim = process.pid
        process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert states(tmp_path)[("p", "facebook")] == "sending"
        assert len(graph.posts) == 1

        after = campaign(tmp_path, "run", "--once", env={"FACEBOOK_PAGE_TOKEN": TOKEN})
        assert after.returncode == 0, after.stderr
        again = campaign(tmp_path, "run", "--once", env={"FACEBOOK_PAGE_TOKEN": TOKEN})
        assert again.returncode == 0, again.stderr

        assert len(graph.posts) == 1
        assert len(posts_sent(graph, "feed")) == 1
    assert states(tmp_path)[("p", "facebook")] == "published"
    status = json.loads(campaign(tmp_path, "status", "--format", "json").stdout)
    [delivery] = status["deliveries"]
    assert delivery["url"] == graph.posts[0]["permalink_url"]
    assert "settled" in campaign(tmp_path, "history", "p").stdout


class LaggingGraph(FakeGraph):
    """Makes the post but does not list it yet (or never answered it): the lookup cannot find it."""

    def _list(self, request: Request) -> Reply:
        return Reply(200, {"data": [], "paging": {"cursors": {"before": "0", "after": "0"}}})


def test_a_lost_answer_never_found_on_the_page_is_in_doubt_and_alerted_never_resent(tmp_path: Path) -> None:
    with LaggingGraph() as graph:
        graph.drop_after_processing("POST", f"/v25.0/{PAGE_ID}/feed")
        write(
            tmp_path,
            {"p": (now() - timedelta(minutes=1), "Een bericht.")},
            channels="channels:\n" + facebook_channels(graph),
            default_channels="[facebook]",
        )
        for _ in range(2):
            run = campaign(tmp_path, "run", "--once", env={"FACEBOOK_PAGE_TOKEN": TOKEN})
            assert run.returncode == 0, run.stderr
        assert len(posts_sent(graph, "feed")) == 1
    assert states(tmp_path)[("p", "facebook")] == "in_doubt"
    book = ledger(tmp_path)
    [alert] = book.alerts.latest()
    book.close()
    assert alert.kind == "in_doubt"
    assert "no post with this message on Facebook Page" in alert.message
    assert "campaign resolve" in campaign(tmp_path, "status").stdout


def test_the_page_token_never_leaves_the_process_even_when_graph_echoes_it(tmp_path: Path) -> None:
    with FakeGraph(token=SENTINEL) as good, FakeGraph(token="the-right-token") as bad:
        good.drop_after_processing("POST", f"/v25.0/{PAGE_ID}/feed")  # settled by a lookup: a GET with the token
        channels = "channels:\n" + facebook_channels(good, "fb") + facebook_channels(bad, "fbold", "OLD_PAGE_TOKEN")
        write(
            tmp_path,
            {"p": (now() - timedelta(minutes=1), "Een bericht.")},
            channels=channels,
            default_channels="[fb, fbold]",
        )
        secrets = {"FACEBOOK_PAGE_TOKEN": SENTINEL, "OLD_PAGE_TOKEN": f"{SENTINEL}-old"}
        run = campaign(tmp_path, "run", "--once", "--log-level", "DEBUG", env=secrets)
        check = campaign(tmp_path, "channels", "check", env=secrets)
        status = campaign(tmp_path, "status", "--format", "json")
        text_status = campaign(tmp_path, "status")
        history = campaign(tmp_path, "history")
    assert run.returncode == 0, run.stderr
    assert states(tmp_path) == {("p", "fb"): "published", ("p", "fbold"): "failed"}
    assert (
        check.returncode == 1
        and "FAILED  fbold: token rejected: Facebook refused the Page access token of channel fbold" in check.stdout
    )
    assert "ok      fb: Page" in check.stdout
    book = ledger(tmp_path)
    assert [a.kind for a in book.alerts.latest()] == ["failed"]
    book.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "campaign.db").iterdump())
    assert "new long-lived Page access token" in dump
    for output in (
        run.stdout,
        run.stderr,
        check.stdout,
        check.stderr,
        status.stdout,
        text_status.stdout,
        history.stdout,
        dump,
    ):
        assert SENTINEL not in output
    assert "access_token" in run.stderr  # urllib3's request lines were logged, token blanked
