"""A video on X as X documents it, against the fake X API over real HTTP: the chunked upload
(initialize, append, finalize), STATUS asked as `check_after_secs` says, alt text, the captions as
SRT subtitles associated with the video; the media id kept in the ledger (a real SQLite file or
PostgreSQL) so that a retry or a restart of the real daemon attaches it, and one post goes out."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from scheduler.channels.x import XChannel
from scheduler.errors import Rejected, RetryLater
from scheduler.media.video import probe
from scheduler.posts import Caption, MediaItem, RenderedPost
from scheduler.publish.ledger import Ledger
from scheduler.publish.store.schema import media_uploads
from tests.builders import run_campaign
from tests.fakes.x_server import ACCESS_TOKEN, ACCESS_TOKEN_SECRET, CONSUMER_KEY, CONSUMER_SECRET, FakeX
from tests.integration.daemon_helpers import at, campaign, daemon, ledger, now, states, wait_for
from tests.videos import make_video, write_vtt

ALT = "Kim van Team Kim legt uit waar je terecht kunt."
KEYS = {
    "X_CONSUMER_KEY": CONSUMER_KEY,
    "X_CONSUMER_SECRET": CONSUMER_SECRET,
    "X_ACCESS_TOKEN": ACCESS_TOKEN,
    "X_ACCESS_TOKEN_SECRET": ACCESS_TOKEN_SECRET,
}


def settings_for(server: FakeX, **more: Any) -> dict[str, Any]:
    return {
        "api": server.url,
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "access_token": ACCESS_TOKEN,
        "access_token_secret": ACCESS_TOKEN_SECRET,
        **more,
    }


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    made.upgrade()
    yield made
    made.close()


def video(tmp_path: Path) -> MediaItem:
    path = make_video(tmp_path / "tip1.mp4", seconds=2.0)
    captions = write_vtt(tmp_path / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))
    return MediaItem(path, ALT, "video", (Caption("nl", captions),), None, probe(path))


def post(item: MediaItem, text: str = "Tip 1: praat erover.") -> RenderedPost:
    return RenderedPost(post="tips/tip1", channel="x", text=text, media=(item,))


def count(server: FakeX, method: str, path: str) -> int:
    return sum(1 for r in server.requests if r.method == method and r.path == path)


def appends(server: FakeX) -> list[str]:
    return [r.value("segment_index") or "" for r in server.requests if r.path.endswith("/append")]


def statuses(server: FakeX) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and r.path == "/2/media/upload")


def test_a_video_goes_out_by_each_documented_step_with_alt_text_and_subtitles(tmp_path: Path, book: Ledger) -> None:
    with FakeX(processing_polls=2, check_after_secs=1) as server:
        channel = XChannel("x", settings_for(server))
        channel.uploads = book.uploads
        item = video(tmp_path)
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    steps = [(r.method, r.path) for r in server.requests if r.path.startswith("/2/media")]
    [media_id] = server.posts[0]["media_ids"]
    assert steps[:4] == [
        ("POST", "/2/media/upload/initialize"),
        ("POST", f"/2/media/upload/{media_id}/append"),
        ("POST", f"/2/media/upload/{media_id}/finalize"),
        ("GET", "/2/media/upload"),
    ]
    assert statuses(server) == 3  # in_progress, in_progress, succeeded
    first_status = next(r for r in server.requests if r.path == "/2/media/upload" and r.method == "GET")
    assert first_status.query == {"command": ["STATUS"], "media_id": [media_id]}
    attached = server.media[media_id]
    assert attached["upload"].data == item.path.read_bytes() and attached["upload"].content_type == "video/mp4"
    assert attached["category"] == "tweet_video" and attached["alt"] == ALT
    [subtitles] = attached["subtitles"]
    assert subtitles["language_code"] == "NL" and subtitles["display_name"] == "Nederlands"
    assert "00:00:00,000 --> 00:00:01,500\nPraat erover." in subtitles["srt"]  # the .vtt sent as SRT
    [sent] = server.posts
    assert receipt.remote_id == sent["id"] and sent["sent_text"] == "Tip 1: praat erover."
    with book.tx() as conn:
        assert conn.execute(select(func.count()).select_from(media_uploads)).scalar_one() == 0


def test_each_language_is_its_own_subtitles_and_an_srt_file_goes_as_it_is(tmp_path: Path) -> None:
    item = video(tmp_path)
    english = tmp_path / "tip1.en.srt"
    english.write_text("1\n00:00:00,500 --> 00:00:01,700\nTalk about it.\n", encoding="utf-8")
    item = MediaItem(item.path, ALT, "video", (*item.captions, Caption("en", english)), None, item.video)
    with FakeX() as server:
        channel = XChannel("x", settings_for(server))
        channel.publish(post(item), "send-1")
        channel.close()
    [sent] = server.posts
    subtitles = server.media[sent["media_ids"][0]]["subtitles"]
    assert [(s["language_code"], s["display_name"]) for s in subtitles] == [("NL", "Nederlands"), ("EN", "English")]
    assert subtitles[1]["srt"] == english.read_text(encoding="utf-8")


def test_the_status_is_asked_no_sooner_than_check_after_secs_says(tmp_path: Path) -> None:
    with FakeX(processing_polls=2, check_after_secs=1) as server:
        channel = XChannel("x", settings_for(server))
        channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    asked = server.media_steps  # when FINALIZE and each STATUS arrived
    gaps = [later - earlier for earlier, later in pairwise(asked)]
    assert len(gaps) == 3 and all(gap >= 0.95 for gap in gaps), gaps  # finalize → STATUS, STATUS → STATUS


def test_a_large_video_is_sent_in_chunks_in_order(tmp_path: Path) -> None:
    big = tmp_path / "groot.mp4"
    with big.open("wb") as handle:
        handle.write(bytes(range(256)) * (9 * 4096 + 10))  # 9 MiB and a bit: three chunks of at most 4 MiB
    with FakeX() as server:
        channel = XChannel("x", settings_for(server))
        channel.publish(post(MediaItem(big, "Groot.", "video", no_captions="geen spraak")), "send-1")
        channel.close()
    [media_id] = server.posts[0]["media_ids"]
    assert appends(server) == ["0", "1", "2"]
    assert server.media[media_id]["upload"].data == big.read_bytes() and server.media[media_id]["subtitles"] == []


def test_a_video_x_cannot_process_is_refused_never_posted_and_not_kept(tmp_path: Path, book: Ledger) -> None:
    with FakeX(processing_polls=1) as server:
        server.failed_processing = True
        channel = XChannel("x", settings_for(server))
        channel.uploads = book.uploads
        with pytest.raises(Rejected) as refused:
            channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    assert "tip1.mp4" in refused.value.reason and "Unsupported video format" in refused.value.reason
    assert server.posts == [] and count(server, "POST", "/2/media/subtitles") == 0
    with book.tx() as conn:
        assert conn.execute(select(func.count()).select_from(media_uploads)).scalar_one() == 0


def test_a_retry_after_the_post_failed_attaches_the_same_upload_and_subtitles_once(
    tmp_path: Path, book: Ledger
) -> None:
    with FakeX(processing_polls=1) as server:
        channel = XChannel("x", settings_for(server))
        channel.uploads = book.uploads
        item = video(tmp_path)
        server.fail("POST", "/2/tweets", 503, {"title": "Service Unavailable", "detail": "down", "status": 503})
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    assert count(server, "POST", "/2/media/upload/initialize") == 1
    assert count(server, "POST", "/2/media/subtitles") == 1
    [sent] = server.posts
    assert receipt.remote_id == sent["id"] and len(server.media[sent["media_ids"][0]]["subtitles"]) == 1


def test_processing_longer_than_one_attempts_wait_is_waited_on_by_the_next(tmp_path: Path, book: Ledger) -> None:
    with FakeX(processing_polls=1_000_000) as server:
        channel = XChannel("x", settings_for(server, media_timeout=1.5))
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater) as later:
            channel.publish(post(item), "send-1")
        assert "still processing tip1.mp4" in later.value.reason and server.posts == []
        server.finish_processing()
        channel.publish(post(item), "send-1")
        channel.close()
    assert count(server, "POST", "/2/media/upload/initialize") == 1 and len(server.posts) == 1


def test_an_upload_x_keeps_too_briefly_to_post_is_uploaded_again(tmp_path: Path, book: Ledger) -> None:
    with FakeX(processing_polls=1_000_000) as server:
        channel = XChannel("x", settings_for(server, media_timeout=1.5))
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        server.finish_processing()
        server.expire_media(after_secs=30)  # STATUS: `expires_after_secs` 30, less than a wait ahead
        channel.publish(post(item), "send-1")
        channel.close()
    assert count(server, "POST", "/2/media/upload/initialize") == 2 and len(server.posts) == 1


def test_a_video_whose_alt_text_x_refuses_goes_out_with_its_subtitles_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeX() as server:
        refusal = {"title": "Invalid Request", "detail": "alt text is for images", "status": 400}
        server.fail("POST", "/2/media/metadata", 400, refusal)
        channel = XChannel("x", settings_for(server))
        with caplog.at_level(logging.WARNING, logger="scheduler.channels.x_media"):
            channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    [sent] = server.posts
    assert len(server.media[sent["media_ids"][0]]["subtitles"]) == 1
    assert any("alt text of tip1.mp4" in r.getMessage() for r in caplog.records)


def test_a_video_over_xs_limits_is_refused_before_anything_is_uploaded(tmp_path: Path) -> None:
    big = tmp_path / "groot.mp4"
    with big.open("wb") as handle:
        handle.truncate((512 << 20) + 1)  # sparse: its size is all that is read
    with FakeX() as server:
        channel = XChannel("x", settings_for(server))
        with pytest.raises(Rejected) as refused:
            channel.publish(post(MediaItem(big, "Groot.", "video", no_captions="geen spraak")), "send-1")
        channel.close()
    assert "groot.mp4" in refused.value.reason and "536,870,912" in refused.value.reason
    assert not any(r.path.startswith("/2/media") for r in server.requests) and server.posts == []


# -- the campaign as a user runs it ---------------------------------------------------------------


def write_video_campaign(root: Path, server: FakeX) -> None:
    keys = ", ".join(f"{key.lower()[2:]}: '${{{key}}}'" for key in KEYS)
    (root / "posts").mkdir(parents=True)
    (root / "channels.yml").write_text(f"channels:\n  x: {{type: x, api: '{server.url}', {keys}}}\n", encoding="utf-8")
    (root / "posts" / "_defaults.yml").write_text("campaign: Test\ntimezone: Europe/Amsterdam\n", encoding="utf-8")
    (root / "posts" / "tip1.md").write_text(
        f"---\npublish_at: {at(now() - timedelta(minutes=1))}\nchannels: [x]\nmedia:\n"
        f"  - path: media/tip1.mp4\n    alt: {ALT}\n    captions: {{nl: tip1.nl.vtt}}\n---\nTip 1: praat erover.\n",
        encoding="utf-8",
    )
    make_video(root / "media" / "tip1.mp4", seconds=2.0)
    write_vtt(root / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.800", "Praat erover."))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    result = campaign(tmp_path, "db", "upgrade", db=url)
    assert result.returncode == 0, result.stderr
    return url


def kept_uploads(root: Path, db: str | None = None) -> int:
    made = ledger(root, db)
    try:
        with made.tx() as conn:
            return int(conn.execute(select(func.count()).select_from(media_uploads)).scalar_one())
    finally:
        made.close()


def test_validate_takes_a_video_for_x_and_run_publishes_it_after_several_polls(tmp_path: Path) -> None:
    with FakeX(processing_polls=2) as server:
        write_video_campaign(tmp_path, server)
        checked = run_campaign(tmp_path, "validate")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        result = campaign(tmp_path, "run", "--once", env=KEYS)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path) == {("tip1", "x"): "published"}
        [sent] = server.posts
        [media_id] = sent["media_ids"]
        assert server.media[media_id]["upload"].data == (tmp_path / "media" / "tip1.mp4").read_bytes()
        assert server.media[media_id]["alt"] == ALT and len(server.media[media_id]["subtitles"]) == 1
        assert statuses(server) == 3
    assert kept_uploads(tmp_path) == 0


def test_a_video_x_cannot_process_fails_with_an_alert_and_is_never_posted(tmp_path: Path) -> None:
    with FakeX(processing_polls=1) as server:
        server.failed_processing = True
        write_video_campaign(tmp_path, server)
        for _ in range(2):  # the second run sends nothing again
            result = campaign(tmp_path, "run", "--once", env=KEYS)
            assert result.returncode in (0, 1), result.stderr
        assert states(tmp_path) == {("tip1", "x"): "failed"}
        assert server.posts == [] and count(server, "POST", "/2/media/upload/initialize") == 1
    made = ledger(tmp_path)
    try:
        [alert] = [a for a in made.alerts.latest() if a.kind == "failed"]
    finally:
        made.close()
    assert "tip1.mp4" in alert.message and "could not process" in alert.message
    assert kept_uploads(tmp_path) == 0


@pytest.mark.parametrize("expired", [False, True], ids=["reused", "expired-so-redone"])
def test_a_daemon_killed_between_the_upload_and_the_post_sends_one_post(
    tmp_path: Path, expired: bool, db: str | None
) -> None:
    with FakeX(processing_polls=1_000_000) as server:
        write_video_campaign(tmp_path, server)
        first = daemon(tmp_path, db=db, **KEYS)
        try:
            # Uploaded, finalized, kept in the ledger, and being processed: the post has not been asked for.
            assert wait_for(lambda: statuses(server) >= 1 and kept_uploads(tmp_path, db) == 1)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=15)
        assert server.posts == []
        server.finish_processing()
        if expired:  # X dropped the unattached upload meanwhile: it is uploaded again
            server.expire_media()
        # X has no idempotency key and "not seen" is not "not out": the send waits for a person.
        result = campaign(tmp_path, "run", "--once", db=db, env=KEYS)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path, db) == {("tip1", "x"): "in_doubt"} and server.posts == []
        for step in (("resolve", "tip1", "--channel", "x", "--not-published"), ("retry", "tip1", "--channel", "x")):
            done = campaign(tmp_path, *step, db=db, env=KEYS)
            assert done.returncode == 0, done.stdout + done.stderr
        result = campaign(tmp_path, "run", "--once", db=db, env=KEYS)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path, db) == {("tip1", "x"): "published"}
        [sent] = server.posts
        assert len(sent["media_ids"]) == 1 and len(server.media[sent["media_ids"][0]]["subtitles"]) == 1
        assert count(server, "POST", "/2/media/upload/initialize") == (2 if expired else 1)
        assert count(server, "POST", "/2/tweets") == 1
    assert kept_uploads(tmp_path, db) == 0
