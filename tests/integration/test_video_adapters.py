"""The Mastodon and Telegram adapters with a video, over real HTTP against the fake networks, with the
ledger (a real SQLite file) as the memory of uploads between attempts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.channels.mastodon import MastodonChannel
from scheduler.channels.telegram import TelegramChannel
from scheduler.errors import Rejected, RetryLater
from scheduler.media.video import probe
from scheduler.posts import Caption, MediaItem, RenderedPost
from scheduler.publish.ledger import Ledger
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.telegram_server import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_server import FakeTelegram
from tests.videos import make_video, pad_video, write_vtt


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    yield ledger
    ledger.close()


def video(tmp_path: Path) -> MediaItem:
    path = make_video(tmp_path / "tip1.mp4", seconds=2.0)
    captions = write_vtt(tmp_path / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Hallo."))
    return MediaItem(path, "Kim legt uit.", "video", (Caption("nl", captions),), None, probe(path))


def post(item: MediaItem, channel: str = "mastodon") -> RenderedPost:
    return RenderedPost(post="tips/tip1", channel=channel, text="Tip 1.", media=(item,))


def count(server: FakeMastodon, method: str, path: str) -> int:
    return sum(1 for r in server.requests if r.method == method and r.path.startswith(path))


def test_a_retry_after_the_status_failed_attaches_the_upload_of_the_first_attempt(tmp_path: Path, book: Ledger) -> None:
    with FakeMastodon(processing_polls=2) as server:
        channel = MastodonChannel("mastodon", {"instance": server.url, "token": TOKEN})
        channel.uploads = book.uploads
        item = video(tmp_path)
        server.fail("POST", "/api/v1/statuses", 503, {"error": "down for a moment"})
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    assert count(server, "POST", "/api/v2/media") == 1
    [status] = server.statuses
    assert receipt.remote_id == status["id"] and [m["type"] for m in status["media_attachments"]] == ["video"]


def test_processing_longer_than_the_wait_is_retried_with_the_same_upload(tmp_path: Path, book: Ledger) -> None:
    with FakeMastodon(processing_polls=1_000_000) as server:
        channel = MastodonChannel("mastodon", {"instance": server.url, "token": TOKEN, "media_timeout": 0.3})
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        server.finish_processing()
        channel.publish(post(item), "send-1")
        channel.close()
    assert count(server, "POST", "/api/v2/media") == 1 and len(server.statuses) == 1


def test_a_changed_video_is_uploaded_anew_for_the_same_send(tmp_path: Path, book: Ledger) -> None:
    with FakeMastodon(processing_polls=1_000_000) as server:
        channel = MastodonChannel("mastodon", {"instance": server.url, "token": TOKEN, "media_timeout": 0.2})
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        server.finish_processing()
        channel.publish(post(MediaItem(item.path, "Een betere beschrijving.", "video", item.captions)), "send-1")
        channel.close()
    assert count(server, "POST", "/api/v2/media") == 2
    [status] = server.statuses
    assert status["media_attachments"][0]["description"] == "Een betere beschrijving."


def test_a_video_over_the_instances_own_limit_is_refused_before_it_is_uploaded(tmp_path: Path) -> None:
    with FakeMastodon() as server:
        server.video_size_limit = 1000
        channel = MastodonChannel("mastodon", {"instance": server.url, "token": TOKEN})
        with pytest.raises(Rejected) as refused:
            channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    assert "video limit of 1000" in refused.value.reason
    assert count(server, "POST", "/api/v2/media") == 0 and server.statuses == []


def test_telegram_sends_a_video_with_its_caption_and_refuses_one_over_50_mb(tmp_path: Path) -> None:
    with FakeTelegram() as server:
        channel = TelegramChannel("telegram", {"token": TELEGRAM_TOKEN, "chat_id": "@campagne", "api": server.url})
        item = video(tmp_path)
        receipt = channel.publish(post(item, "telegram"), "send-1")
        big = tmp_path / "groot.mp4"
        with big.open("wb") as handle:
            handle.truncate(50 * 1024 * 1024 + 1)  # sparse: its size is all that is read
        with pytest.raises(Rejected) as refused:
            channel.publish(post(MediaItem(big, "Groot.", "video", no_captions="geen spraak"), "telegram"), "send-2")
        channel.close()
    [message] = server.messages
    assert receipt.remote_id == str(message["message_id"])
    assert message["video"]["width"] == 64 and message["video"]["height"] == 48 and message["shown"] == "Tip 1."
    assert "50 MB" in refused.value.reason and len(server.messages) == 1


def test_telegram_sends_a_video_over_a_link_slower_than_the_connect_timeout_allows(tmp_path: Path) -> None:
    # 12 MB at 1.5 MB/s: 8 s of sending. A body is sent under the connect timeout (5 s), which used to end
    # the upload half-way on any slow link; an upload's timeout follows its size (http.upload_timeout).
    with FakeTelegram() as server:
        server.upload_rate = 1_500_000
        channel = TelegramChannel("telegram", {"token": TELEGRAM_TOKEN, "chat_id": "@campagne", "api": server.url})
        item = video(tmp_path)
        pad_video(item.path, 12_000_000)
        channel.publish(post(item, "telegram"), "send-1")
        channel.close()
    [message] = server.messages
    assert message["shown"] == "Tip 1."
