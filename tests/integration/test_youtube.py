"""The YouTube adapter over real HTTP against a fake YouTube (tests/fakes/youtube_server.py), with the
ledger (a real SQLite file) keeping the upload session and the video id between attempts."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import select

from scheduler.channels.youtube.channel import YouTubeChannel, marker
from scheduler.channels.youtube.google import until_quota_resets
from scheduler.errors import InDoubt, Rejected, RetryLater
from scheduler.media.video import probe
from scheduler.posts import Caption, MediaItem, RenderedPost
from scheduler.publish.ledger import Ledger
from scheduler.publish.store.schema import media_uploads
from scheduler.secrets import resolve
from tests.fakes.youtube_server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeYouTube
from tests.videos import write_vtt

CHUNK = 256 * 1024
KEY = "tips/tip1|youtube|v1"


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    yield ledger
    ledger.close()


def noisy_video(path: Path, frames: int = 30) -> Path:
    """A video of random pixels: it does not compress, so it is several 256 KiB chunks long."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for n in range(frames):
            frame = av.VideoFrame(320, 240, "rgb24")
            frame.planes[0].update(os.urandom(frame.planes[0].buffer_size))
            frame.pts, frame.time_base = n, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def video(tmp_path: Path, languages: tuple[str, ...] = ("nl", "en")) -> MediaItem:
    path = noisy_video(tmp_path / "tip1.mp4")
    captions = tuple(
        Caption(lang, write_vtt(tmp_path / f"tip1.{lang}.vtt", ("00:00:00.000", "00:00:02.000", f"Hallo {lang}.")))
        for lang in languages
    )
    return MediaItem(path, "Kim legt uit.", "video", captions, None, probe(path))


def post(item: MediaItem) -> RenderedPost:
    return RenderedPost(
        post="tips/tip1", channel="youtube", text="Tip 1: praat erover.", media=(item,), title="Tip 1 van Team Kim"
    )


def channel(server: FakeYouTube, book: Ledger | None = None, **extra: Any) -> YouTubeChannel:
    settings = {
        "client_id": CLIENT_ID,
        "client_secret": "${YOUTUBE_CLIENT_SECRET}",
        "refresh_token": "${YOUTUBE_REFRESH_TOKEN}",
        "api": server.url,
        "accounts": server.url,
        "chunk_bytes": CHUNK,
        **extra,
    }
    secrets = {"YOUTUBE_CLIENT_SECRET": CLIENT_SECRET, "YOUTUBE_REFRESH_TOKEN": REFRESH_TOKEN}
    made = YouTubeChannel("youtube", resolve(settings, env=secrets))
    made.uploads = book.uploads if book is not None else None
    return made


def puts(server: FakeYouTube) -> list[str]:
    return [r.headers.get("content-range", "") for r in server.requests if r.method == "PUT" and "upload" in r.path]


def kept(book: Ledger) -> list[str]:
    with book.tx() as conn:
        return [row.remote_id for row in conn.execute(select(media_uploads.c.remote_id))]


def test_a_video_with_two_caption_languages_goes_up_private_then_gets_its_captions_then_goes_public(
    tmp_path: Path, book: Ledger
) -> None:
    item = video(tmp_path)
    with FakeYouTube(processing_polls=2) as server:
        youtube = channel(server, book)
        receipt = youtube.publish(post(item), KEY)
        youtube.close()
    [(video_id, found)] = server.videos.items()
    assert receipt.remote_id == video_id and receipt.url == f"https://www.youtube.com/watch?v={video_id}"
    assert found["bytes"] == item.path.read_bytes()
    assert [what for _, what in server.events] == ["insert", "caption:nl", "caption:en", "public"]
    [session] = server.sessions.values()
    assert session["privacy"] == "private" and session["type"] == "video/mp4"
    snippet = found["snippet"]
    assert (snippet["title"], snippet["description"]) == ("Tip 1 van Team Kim", "Tip 1: praat erover.")
    assert snippet["tags"] == [marker(KEY)]
    tracks = {t["snippet"]["language"]: t["data"] for t in server.captions[video_id]}
    assert tracks == {lang: (tmp_path / f"tip1.{lang}.vtt").read_text(encoding="utf-8") for lang in ("nl", "en")}
    assert found["status"]["privacyStatus"] == "public"
    assert len(puts(server)) > 2  # several chunks of 256 KiB
    assert sum(1 for r in server.requests if r.path == "/youtube/v3/videos" and r.method == "GET") >= 3
    assert kept(book) == []  # public: nothing left for a retry


def test_captions_none_inserts_no_track(tmp_path: Path, book: Ledger) -> None:
    item = video(tmp_path, languages=())
    with FakeYouTube() as server:
        youtube = channel(server, book)
        youtube.publish(post(item), KEY)
        youtube.close()
    assert [what for _, what in server.events] == ["insert", "public"]
    assert not any(r.path.endswith("/captions") for r in server.requests)


def test_an_upload_cut_halfway_is_resumed_where_it_stopped_not_restarted(tmp_path: Path, book: Ledger) -> None:
    item = video(tmp_path)
    size = item.path.stat().st_size
    assert size > 3 * CHUNK
    with FakeYouTube() as server:
        youtube = channel(server, book)
        server.cut_at(CHUNK)  # the second chunk arrives, its answer is lost
        with pytest.raises(RetryLater):
            youtube.publish(post(item), KEY)
        assert server.videos == {} and server.received() == 2 * CHUNK
        assert [value.split(":", 1)[0] for value in kept(book)] == ["session"]
        youtube.publish(post(item), KEY)
        youtube.close()
    ranges = puts(server)
    assert ranges[:4] == [
        f"bytes 0-{CHUNK - 1}/{size}",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{size}",  # taken in, answer lost
        f"bytes */{size}",  # the next attempt asks the session what it holds
        f"bytes {2 * CHUNK}-{3 * CHUNK - 1}/{size}",  # and goes on from there
    ]
    assert sum(1 for r in ranges if r.startswith("bytes 0-")) == 1  # never from the start again
    assert len(server.sessions) == 1
    [found] = server.videos.values()
    assert found["bytes"] == item.path.read_bytes() and found["status"]["privacyStatus"] == "public"


def test_a_session_that_is_gone_starts_over(tmp_path: Path, book: Ledger) -> None:
    item = video(tmp_path)
    with FakeYouTube() as server:
        youtube = channel(server, book)
        server.drop_after_processing("PUT", "/upload/youtube/v3/videos")
        with pytest.raises(RetryLater):
            youtube.publish(post(item), KEY)
        server.sessions.clear()  # expired
        youtube.publish(post(item), KEY)
        youtube.close()
    [found] = server.videos.values()
    assert found["bytes"] == item.path.read_bytes() and found["status"]["privacyStatus"] == "public"


def test_quota_exceeded_waits_until_the_quota_resets_at_midnight_pacific(tmp_path: Path, book: Ledger) -> None:
    item = video(tmp_path)
    with FakeYouTube() as server:
        youtube = channel(server, book)
        server.quota("/upload/youtube/v3/videos")
        with pytest.raises(RetryLater) as caught:
            youtube.publish(post(item), KEY)
        assert server.videos == {} and server.sessions == {}
        expected = until_quota_resets()
        assert caught.value.after is not None and abs(caught.value.after - expected) < 120
        assert caught.value.after > 60  # a day's quota, not seconds of backoff
        assert "quota" in caught.value.reason and "midnight Pacific" in caught.value.reason
        server.quota("/youtube/v3/videos", method="PUT")  # the step that publishes: stays private
        with pytest.raises(RetryLater) as caught:
            youtube.publish(post(item), KEY)
        assert caught.value.after is not None and abs(caught.value.after - until_quota_resets()) < 120
        assert [what for _, what in server.events] == ["insert", "caption:nl", "caption:en"]  # private
        youtube.publish(post(item), KEY)  # the next day
        youtube.close()
    assert len(server.videos) == 1 and len(server.sessions) == 1
    assert [what for _, what in server.events] == ["insert", "caption:nl", "caption:en", "public"]


def test_the_channels_upload_limit_waits_24_hours(tmp_path: Path, book: Ledger) -> None:
    item = video(tmp_path)
    with FakeYouTube() as server:
        youtube = channel(server, book)
        server.quota("/upload/youtube/v3/videos", reason="uploadLimitExceeded")
        with pytest.raises(RetryLater) as caught:
            youtube.publish(post(item), KEY)
        assert caught.value.after == 24 * 3600
        assert "24 hours" in caught.value.reason
        assert server.videos == {}
        youtube.publish(post(item), KEY)  # the next day
        youtube.close()
    assert len(server.videos) == 1 and len(server.sessions) == 1


def test_quota_resets_at_the_next_midnight_pacific_time() -> None:
    from scheduler.channels.youtube.google import PACIFIC

    evening = datetime(2026, 7, 1, 23, 0, tzinfo=PACIFIC)  # summer time
    assert until_quota_resets(evening) == 3600 + 60
    morning = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 00:00 Pacific standard time exactly
    assert until_quota_resets(morning) == timedelta(days=1).total_seconds() + 60


def test_a_revoked_refresh_token_is_one_rejection_naming_the_setting_never_the_token(
    tmp_path: Path, book: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    item = video(tmp_path)
    caplog.set_level(logging.DEBUG)
    with FakeYouTube() as server:
        server.revoked = True
        youtube = channel(server, book)
        with pytest.raises(Rejected) as caught:
            youtube.publish(post(item), KEY)
        with pytest.raises(Rejected) as checked:
            youtube.check()
        youtube.close()
    assert server.videos == {} and server.sessions == {}
    for error in (caught.value, checked.value):
        assert "`refresh_token`" in error.reason and "How to set up YouTube" in error.reason
        assert REFRESH_TOKEN not in error.reason and CLIENT_SECRET not in error.reason
    assert REFRESH_TOKEN not in caplog.text and CLIENT_SECRET not in caplog.text


def test_no_token_in_logs_errors_or_the_ledger(tmp_path: Path, book: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    item = video(tmp_path)
    caplog.set_level(logging.DEBUG)
    with FakeYouTube(processing_polls=1) as server:
        youtube = channel(server, book)
        server.drop_after_processing("PUT", "/upload/youtube/v3/videos")
        with pytest.raises(RetryLater) as caught:
            youtube.publish(post(item), KEY)
        in_ledger = kept(book)
        youtube.publish(post(item), KEY)
        youtube.close()
    secrets = [REFRESH_TOKEN, CLIENT_SECRET, *server.tokens]
    assert server.tokens
    for secret in secrets:
        assert secret not in caplog.text and secret not in caught.value.reason
        assert all(secret not in row for row in in_ledger)
    assert (tmp_path / "ledger.db").read_bytes().find(server.tokens[0].encode()) == -1


def test_check_says_which_youtube_channel_it_posts_as() -> None:
    with FakeYouTube() as server:
        youtube = channel(server)
        assert "Team Kim" in youtube.check() and "UCfakechannel" in youtube.check()
        youtube.close()
    assert len(server.tokens) == 1  # the access token is kept until it expires


def test_processing_that_fails_is_rejected_and_nothing_goes_public(tmp_path: Path, book: Ledger) -> None:
    item = video(tmp_path)
    with FakeYouTube(processing_polls=1) as server:
        server.failed_processing = True
        youtube = channel(server, book)
        with pytest.raises(Rejected) as caught:
            youtube.publish(post(item), KEY)
        youtube.close()
    assert "tip1.mp4" in caught.value.reason and "failed" in caught.value.reason
    assert [what for _, what in server.events] == ["insert"]
    assert kept(book) == []


def test_a_lost_answer_to_going_public_is_settled_by_lookup(tmp_path: Path, book: Ledger) -> None:
    item = video(tmp_path)
    since = datetime.now(UTC)
    with FakeYouTube() as server:
        youtube = channel(server, book)
        assert youtube.lookup(KEY, post(item), since) is None  # nothing uploaded
        server.drop_after_processing("PUT", "/youtube/v3/videos")
        with pytest.raises(InDoubt):
            youtube.publish(post(item), KEY)
        receipt = youtube.lookup(KEY, post(item), since)
        other = youtube.lookup("another|send", post(item), since)
        youtube.close()
    [video_id] = server.videos
    assert receipt is not None and receipt.remote_id == video_id
    assert other is None


def test_a_private_video_whose_ledger_row_was_lost_is_found_among_the_uploads_and_continued(
    tmp_path: Path, book: Ledger
) -> None:
    item = video(tmp_path)
    with FakeYouTube() as server:
        youtube = channel(server, book)
        server.quota("/youtube/v3/captions", method="GET")  # stopped after the upload, before captions
        with pytest.raises(RetryLater):
            youtube.publish(post(item), KEY)
        with book.tx() as conn:
            conn.execute(media_uploads.delete())
        assert youtube.lookup(KEY, post(item), datetime.now(UTC)) is None  # private: not out
        youtube.publish(post(item), KEY)
        youtube.close()
    assert len(server.sessions) == 1
    [found] = server.videos.values()
    assert found["status"]["privacyStatus"] == "public"
