"""Threads as the Threads API documents it, against the fake Threads over real HTTP, with the ledger a
real SQLite file: a container made, kept in the ledger before it is published, waited for and published;
a retry or a restart publishes that container or finds it published, never a second post; an expired one
made anew; the publishing limits read before a send; media checked at their public URL first."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from scheduler.channels.base import Receipt
from scheduler.channels.threads import ThreadsChannel
from scheduler.channels.threads.channel import MEDIA
from scheduler.errors import InDoubt, LedgerError, Rejected, RetryLater, TokenRejected
from scheduler.media.renditions import rendition
from scheduler.posts import MediaItem, RenderedPost
from scheduler.publish.ledger import Ledger
from scheduler.publish.store.schema import media_uploads
from tests.fakes.images import photo
from tests.fakes.threads_server import TOKEN, USER_ID, FakeThreads
from tests.videos import make_video

TEXT = "Kindermishandeling stopt pas als we erover praten. Bel 0800-2000, gratis en anoniem."
ALT = "Een kind zit op de trap en kijkt naar buiten."


def channel_for(server: FakeThreads, **settings: Any) -> ThreadsChannel:
    return ThreadsChannel(
        "threads",
        {
            "user_id": USER_ID,
            "token": TOKEN,
            "api": server.url + "/v1.0",
            "media_url": server.url + "/media/",
            **settings,
        },
    )


def post(text: str = TEXT, media: tuple[MediaItem, ...] = ()) -> RenderedPost:
    return RenderedPost(post="tips/tip1", channel="threads", text=text, media=media)


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    made.upgrade()
    yield made
    made.close()


def kept_rows(book: Ledger) -> list[str]:
    with book.tx() as conn:
        return [row.remote_id for row in conn.execute(select(media_uploads.c.remote_id))]


def publishes(server: FakeThreads) -> int:
    return len([r for r in server.requests if r.method == "POST" and r.path.endswith("/threads_publish")])


def serve(server: FakeThreads, item: MediaItem) -> str:
    """Put the rendition of `item` where `media_url` says it is; its URL."""
    made = rendition(item.path, MEDIA)
    name = hashlib.sha256(made.read_bytes()).hexdigest() + made.path.suffix
    server.media[name] = made.read_bytes()
    return f"{server.url}/media/{name}"


def test_a_text_post_is_a_container_kept_in_the_ledger_then_published_with_its_permalink(book: Ledger) -> None:
    with FakeThreads() as server:
        channel = channel_for(server)
        channel.uploads = book.uploads
        receipt = channel.publish(post(), "send-1")
        channel.close()
    [container] = server.created()
    [published] = server.posts
    assert container["media_type"] == "TEXT" and container["text"] == TEXT
    assert receipt == Receipt(url=published["permalink"], remote_id=published["id"])
    # the container was kept before publishing; now the post's id in its place: a restart finds it published
    assert kept_rows(book) == [f"published:{published['id']}"]
    paths = [(r.method, r.path.rsplit("/", 1)[-1]) for r in server.requests]
    # the limit read before anything is made; the container made and kept before threads_publish
    assert paths.index(("GET", "threads_publishing_limit")) < paths.index(("POST", "threads"))
    assert paths.index(("POST", "threads")) < paths.index(("POST", "threads_publish"))
    limit = next(r for r in server.requests if r.path.endswith("/threads_publishing_limit"))
    assert limit.value("fields") == "quota_usage,config"


def test_a_container_that_cannot_be_kept_in_the_ledger_is_never_published() -> None:
    class Unwritable:
        def recall(self, channel: str, key: str, digest: str) -> tuple[str, datetime] | None:
            return None

        def keep(self, channel: str, key: str, digest: str, remote_id: str) -> None:
            raise LedgerError("database is locked")

        def forget(self, channel: str, key: str) -> None:
            pass

    with FakeThreads() as server:
        channel = channel_for(server)
        channel.uploads = Unwritable()
        with pytest.raises(RetryLater) as later:
            channel.publish(post(), "send-1")
        channel.close()
    assert "not published" in later.value.reason and "database is locked" in later.value.reason
    assert len(server.created()) == 1 and publishes(server) == 0 and server.posts == []


def test_a_container_still_processing_is_waited_for_by_the_next_attempt_with_the_same_container(book: Ledger) -> None:
    with FakeThreads(processing_polls=1_000_000) as server:
        channel = channel_for(server, media_timeout=1)
        channel.uploads = book.uploads
        with pytest.raises(RetryLater) as later:
            channel.publish(post(), "send-1")
        assert "still preparing" in later.value.reason and publishes(server) == 0
        server.finish_processing()
        receipt = channel.publish(post(), "send-1")
        channel.close()
    assert len(server.created()) == 1 and [p["id"] for p in server.posts] == [receipt.remote_id]


def test_an_expired_container_is_made_anew_and_only_the_new_one_is_published(book: Ledger) -> None:
    class Paused:
        def paused(self, channel: str) -> str | None:
            return "paused: nieuws vraagt om stilte"

    with FakeThreads() as server:
        channel = channel_for(server)
        channel.uploads = book.uploads
        channel.pauses = Paused()
        with pytest.raises(RetryLater) as later:
            channel.publish(post(), "send-1")
        assert "once the pause is lifted" in later.value.reason and publishes(server) == 0
        [first] = server.created()
        server.expire(first["id"])  # 24 hours later
        channel.pauses = None
        receipt = channel.publish(post(), "send-1")
        channel.close()
    old, new = server.created()
    assert old["status"] == "EXPIRED" and new["status"] == "PUBLISHED"
    assert [p["container"] for p in server.posts] == [new["id"]] and receipt.remote_id == server.posts[0]["id"]
    assert kept_rows(book) == [f"published:{server.posts[0]['id']}"]


def test_a_retry_after_publishing_finds_the_container_published_and_makes_no_second_post(book: Ledger) -> None:
    with FakeThreads() as server:
        channel = channel_for(server)
        channel.uploads = book.uploads
        server.drop_after_processing("POST", f"/v1.0/{USER_ID}/threads_publish")  # published, the answer lost
        since = datetime.now(UTC)
        with pytest.raises(InDoubt):
            channel.publish(post(), "send-1")
        found = channel.lookup("send-1", post(), since)
        again = channel.publish(post(), "send-1")
        channel.close()
    [published] = server.posts
    assert found == again == Receipt(url=published["permalink"], remote_id=published["id"])
    assert publishes(server) == 1 and len(server.created()) == 1


def test_lookup_of_a_send_whose_container_is_not_published_says_nothing_is_out(book: Ledger) -> None:
    with FakeThreads(processing_polls=1_000_000) as server:
        channel = channel_for(server, media_timeout=1)
        channel.uploads = book.uploads
        since = datetime.now(UTC)
        assert channel.lookup("send-1", post(), since) is None  # nothing kept, nothing with this text
        with pytest.raises(RetryLater):
            channel.publish(post(), "send-1")
        assert channel.lookup("send-1", post(), since) is None  # kept, still processing: not out
        channel.close()
    assert server.posts == []


def test_a_container_threads_cannot_make_is_refused_with_its_error_message(book: Ledger) -> None:
    with FakeThreads(processing_polls=1_000_000) as server:
        channel = channel_for(server, media_timeout=1)
        channel.uploads = book.uploads
        with pytest.raises(RetryLater):
            channel.publish(post(), "send-1")
        server.fail_container(server.created()[0]["id"], "UNKNOWN")
        with pytest.raises(Rejected) as refused:
            channel.publish(post(), "send-1")
        channel.close()
    assert "UNKNOWN" in refused.value.reason and server.posts == [] and kept_rows(book) == []


def test_an_image_goes_to_its_public_url_with_its_alt_text_after_the_url_is_checked(
    tmp_path: Path, book: Ledger
) -> None:
    item = MediaItem(photo(tmp_path / "trap.jpg", (2400, 1600)), ALT)
    with FakeThreads() as server:
        url = serve(server, item)
        channel = channel_for(server)
        channel.uploads = book.uploads
        channel.publish(post(media=(item,)), "send-1")
        channel.close()
    [container] = server.created()
    assert container["media_type"] == "IMAGE" and container["image_url"] == url and container["alt_text"] == ALT
    fetched = [r for r in server.requests if r.path.startswith("/media/")]
    assert fetched and server.requests.index(fetched[0]) < server.requests.index(
        next(r for r in server.requests if r.path.endswith(f"/{USER_ID}/threads") and r.method == "POST")
    )


def test_an_image_url_serving_other_bytes_holds_the_send_and_makes_nothing(tmp_path: Path, book: Ledger) -> None:
    item = MediaItem(photo(tmp_path / "trap.jpg"), ALT)
    with FakeThreads() as server:
        url = serve(server, item)
        server.media[url.rsplit("/", 1)[-1]] = b"an older version of the picture"
        channel = channel_for(server)
        channel.uploads = book.uploads
        with pytest.raises(RetryLater) as held:
            channel.publish(post(media=(item,)), "send-1")
        del server.media[url.rsplit("/", 1)[-1]]
        with pytest.raises(RetryLater) as missing:
            channel.publish(post(media=(item,)), "send-1")
        channel.close()
    for reason in (held.value.reason, missing.value.reason):
        assert url in reason and "campaign media export" in reason
    assert "other bytes" in held.value.reason and "trap.jpg" in held.value.reason
    assert server.containers == {} and server.posts == []


def test_several_images_go_as_one_carousel(tmp_path: Path, book: Ledger) -> None:
    items = tuple(MediaItem(photo(tmp_path / f"beeld{i}.png", (300 + i, 200)), f"Beeld {i}.") for i in range(3))
    with FakeThreads() as server:
        urls = [serve(server, item) for item in items]
        channel = channel_for(server)
        channel.uploads = book.uploads
        channel.publish(post(media=items), "send-1")
        channel.close()
    [carousel] = server.created()
    [published] = server.posts
    assert carousel["media_type"] == "CAROUSEL" and published["container"] == carousel["id"]
    assert [c["image_url"] for c in published["children"]] == urls
    assert [c["alt_text"] for c in published["children"]] == ["Beeld 0.", "Beeld 1.", "Beeld 2."]


def test_at_the_publishing_limit_the_send_waits_and_nothing_is_made(book: Ledger) -> None:
    with FakeThreads() as server:
        server.quota_used_before = server.quota_total
        channel = channel_for(server)
        channel.uploads = book.uploads
        with pytest.raises(RetryLater) as later:
            channel.publish(post(), "send-1")
        assert server.containers == {}
        assert "250 of the 250 posts" in later.value.reason and 0 < (later.value.after or 0) <= 3600
        server.quota_used_before = 0  # the window moved on
        channel.publish(post(), "send-1")
        channel.close()
    assert len(server.posts) == 1


def test_a_reply_reads_the_reply_quota(book: Ledger) -> None:
    with FakeThreads() as server:
        channel = channel_for(server)
        channel.uploads = book.uploads
        first = channel.publish(post(), "send-1")
        server.reply_quota_total = 1
        second = channel.publish(post("Deel twee."), "send-1-2", reply_to=first)
        with pytest.raises(RetryLater) as later:
            channel.publish(post("Deel drie."), "send-1-3", reply_to=second)
        channel.close()
    assert "1 of the 1 replies" in later.value.reason
    assert server.posts[1]["reply_to_id"] == first.remote_id and len(server.posts) == 2
    asked = [r.value("fields") for r in server.requests if r.path.endswith("/threads_publishing_limit")]
    assert asked == ["quota_usage,config", "reply_quota_usage,reply_config", "reply_quota_usage,reply_config"]


def test_the_limit_said_by_threads_publish_waits_and_spam_is_refused_for_good(book: Ledger) -> None:
    with FakeThreads() as server:
        channel = channel_for(server)
        channel.uploads = book.uploads
        server.quota_total = 0  # the limit read says nothing is full (no read), threads_publish says 9/2207042
        server.fail(
            "GET",
            f"/v1.0/{USER_ID}/threads_publishing_limit",
            200,
            {"data": [{"quota_usage": 0, "config": {"quota_total": 250, "quota_duration": 86400}}]},
        )
        with pytest.raises(RetryLater) as later:
            channel.publish(post(), "send-1")
        assert "publishing limit" in later.value.reason and "2207042" in later.value.reason
        server.quota_total = 250
        server.spam = True
        with pytest.raises(Rejected) as refused:
            channel.publish(post(), "send-1")
        channel.close()
    assert not isinstance(refused.value, TokenRejected)
    assert "spam" in refused.value.reason and "not sent again" in refused.value.reason
    assert server.posts == [] and len(server.created()) == 1  # the same container both times


def test_a_refused_token_is_token_rejected_and_never_echoed(book: Ledger) -> None:
    with FakeThreads(token="something-else") as server:
        channel = channel_for(server)
        with pytest.raises(TokenRejected) as refused:
            channel.publish(post(), "send-1")
        health = channel.token_health()
        channel.close()
    assert TOKEN not in refused.value.reason and "docs/writing-posts.md" in refused.value.reason
    assert health.revoked


def test_token_health_says_who_and_when_it_ends(book: Ledger) -> None:
    with FakeThreads() as server:
        server.expires_at = int(datetime(2027, 2, 1, tzinfo=UTC).timestamp())
        channel = channel_for(server)
        health = channel.token_health()
        checked = channel.check()
        channel.close()
    assert health.posts_as == "@weektegenkindermishandeling on Threads"
    assert health.expires == datetime(2027, 2, 1, tzinfo=UTC) and "channels refresh" in health.renew
    assert "authenticated as @weektegenkindermishandeling" in checked


def test_refresh_asks_for_a_new_long_lived_token(book: Ledger) -> None:
    with FakeThreads() as server:
        channel = channel_for(server)
        new = channel.refresh()
        channel.close()
    assert server.refreshed == [new]
    [asked] = [r for r in server.requests if r.path == "/refresh_access_token"]
    assert asked.value("grant_type") == "th_refresh_token" and asked.value("access_token") == TOKEN


def test_kept_rows_are_one_per_send(book: Ledger) -> None:
    with FakeThreads() as server:
        channel = channel_for(server)
        channel.uploads = book.uploads
        channel.publish(post(), "send-1")
        channel.publish(post("Een ander bericht."), "send-2")
        channel.close()
    with book.tx() as conn:
        assert conn.execute(select(func.count()).select_from(media_uploads)).scalar_one() == 2


def test_a_video_goes_to_its_public_url_and_is_published_once_threads_has_processed_it(
    tmp_path: Path, book: Ledger
) -> None:
    path = make_video(tmp_path / "tip1.mp4")
    item = MediaItem(path, ALT, "video", no_captions="geen spraak")
    name = hashlib.sha256(path.read_bytes()).hexdigest() + ".mp4"
    with FakeThreads(processing_polls=1) as server:
        server.media[name] = path.read_bytes()
        channel = channel_for(server)
        channel.uploads = book.uploads
        receipt = channel.publish(post(media=(item,)), "send-1")
        channel.close()
        url = f"{server.url}/media/{name}"
    [container] = server.created()
    assert container["media_type"] == "VIDEO" and container["video_url"] == url
    assert container["alt_text"] == ALT and [p["id"] for p in server.posts] == [receipt.remote_id]
    looks = [r for r in server.requests if r.path == f"/v1.0/{container['id']}"]
    assert len(looks) == 2  # IN_PROGRESS once, then FINISHED


def test_a_token_that_debug_token_will_not_describe_still_says_who_and_that_its_end_is_not_known(book: Ledger) -> None:
    with FakeThreads() as server:
        # Threads answers debug_token only for the app's testers; for others it is an error.
        server.fail("GET", "/v1.0/debug_token", 400, {"error": {"message": "(#10) Tester only", "code": 10}})
        channel = channel_for(server)
        health = channel.token_health()
        channel.close()
    assert not health.revoked and health.expires is None
    assert health.posts_as == "@weektegenkindermishandeling on Threads" and "60 days" in health.note
