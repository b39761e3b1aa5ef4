"""The Bluesky adapter with a video, over real HTTP against a fake PDS and a fake video service that speak
the documented contract (upload limits, service-auth tokens, uploadVideo, job status, app.bsky.embed.video),
with the ledger (a real SQLite file) as the memory of uploads between attempts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.channels.bluesky import BlueskyChannel
from scheduler.channels.uploads import digest
from scheduler.errors import Rejected, RetryLater
from scheduler.media.video import probe
from scheduler.posts import Caption, MediaItem, RenderedPost
from scheduler.publish.ledger import Ledger
from tests.fakes.bluesky_server import FakePDS
from tests.fakes.bluesky_server import Reply as PDSReply
from tests.fakes.bluesky_video_server import LIMITS, STATUS, UPLOAD, FakeVideoService
from tests.videos import make_video, write_vtt

PASSWORD = "app-pass-1234"
ALT = "Kim legt uit waar je terecht kunt."


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    yield ledger
    ledger.close()


def video(tmp_path: Path) -> MediaItem:
    path = make_video(tmp_path / "tip1.mp4", seconds=2.0)
    dutch = write_vtt(tmp_path / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))
    english = tmp_path / "tip1.en.srt"
    english.write_text("1\n00:00:00,000 --> 00:00:01,500\nTalk about it.\n\n", encoding="utf-8")
    return MediaItem(path, ALT, "video", (Caption("nl", dutch), Caption("en", english)), None, probe(path))


def post(item: MediaItem) -> RenderedPost:
    return RenderedPost(post="tips/tip1", channel="bluesky", text="Tip 1: praat erover.", media=(item,))


def channel_for(pds: FakePDS, service: FakeVideoService, **settings: object) -> BlueskyChannel:
    base = {"handle": pds.handle, "app_password": PASSWORD, "pds": pds.url, "video_service": service.url}
    return BlueskyChannel("bluesky", {**base, **settings})


def test_a_video_with_captions_is_published_through_each_documented_step(tmp_path: Path, book: Ledger) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds, processing_polls=3) as service:
        # bsky.social is an entryway: the account's DID document names the PDS that holds its repository
        pds.pds_endpoint = "https://morel.us-east.host.bsky.network"
        channel = channel_for(pds, service)
        channel.uploads = book.uploads
        item = video(tmp_path)
        receipt = channel.publish(post(item), "send-1")
        channel.close()

    # 1. the day's limits, with a token for the video service; 2. the upload, with a token for the PDS
    limits, upload = (r for r in service.requests if r.path in (f"/xrpc/{LIMITS}", f"/xrpc/{UPLOAD}"))
    assert limits.path.endswith(LIMITS) and upload.path.endswith(UPLOAD)
    claims = [pds.claims(r.headers["authorization"].removeprefix("Bearer ")) for r in (limits, upload)]
    assert claims[0] is not None and claims[1] is not None
    assert (claims[0]["aud"], claims[0]["lxm"]) == ("did:web:127.0.0.1", "app.bsky.video.getUploadLimits")
    assert (claims[1]["aud"], claims[1]["lxm"]) == (
        "did:web:morel.us-east.host.bsky.network",
        "com.atproto.repo.uploadBlob",
    )
    assert 25 * 60 <= claims[1]["exp"] - time.time() <= 3600
    assert upload.query == {"did": [pds.did], "name": ["tip1.mp4"]} and upload.headers["content-type"] == "video/mp4"
    assert service.uploads == [item.path.read_bytes()]
    # 3. the job polled until it was processed: three times encoding, then completed
    assert service.count(STATUS) == 4
    # 4. the post, with the processed video's blob, its alt text, aspect ratio and both captions as WebVTT
    [record] = pds.posts
    embed = record["embed"]
    assert receipt.remote_id is not None and receipt.remote_id.endswith(next(iter(pds.records)))
    assert embed["$type"] == "app.bsky.embed.video" and embed["alt"] == ALT
    assert embed["aspectRatio"] == {"width": 64, "height": 48}
    assert pds.blobs[embed["video"]["ref"]["$link"]] == (item.path.read_bytes(), "video/mp4")
    files = {c["lang"]: pds.blobs[c["file"]["ref"]["$link"]] for c in embed["captions"]}
    assert files["nl"] == (item.captions[0].path.read_bytes(), "text/vtt")
    english, kind = files["en"]
    assert kind == "text/vtt" and english.startswith(b"WEBVTT") and b"00:00:00.000 --> 00:00:01.500" in english
    assert book.uploads.recall("bluesky", "send-1", digest(item)) is None  # attached: no attempt may use it again


def test_a_video_the_account_cannot_upload_today_waits_with_the_reason(tmp_path: Path, book: Ledger) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds) as service:
        service.remaining_videos = 0
        channel = channel_for(pds, service)
        channel.uploads = book.uploads
        with pytest.raises(RetryLater) as waiting:
            channel.publish(post(video(tmp_path)), "send-1")
        item = video(tmp_path)
        service.remaining_videos, service.remaining_bytes = 5, item.path.stat().st_size - 1
        with pytest.raises(RetryLater) as still:
            channel.publish(post(item), "send-1")
        # the limit reached between the look at the limits and the upload: it waits too, never fails
        service.remaining_bytes = 10_000_000
        service.fail("POST", f"/xrpc/{UPLOAD}", 400, {"error": "upload_limit_exceeded", "message": "daily limit"})
        with pytest.raises(RetryLater) as raced:
            channel.publish(post(item), "send-1")
        channel.close()
    # the service's own words (canUpload false), and a wait of an hour rather than the backoff
    assert service.limit_message in waiting.value.reason and waiting.value.after == 3600
    assert "bytes left for today" in still.value.reason
    assert "tried again in an hour" in raced.value.reason and raced.value.after == 3600
    assert service.uploads == [] and pds.posts == []


def test_processing_that_fails_fails_the_send_and_posts_nothing(tmp_path: Path, book: Ledger) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds, processing_polls=2) as service:
        service.failed_processing = True
        channel = channel_for(pds, service)
        channel.uploads = book.uploads
        with pytest.raises(Rejected) as refused:
            channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    assert "could not process tip1.mp4" in refused.value.reason and "not a supported format" in refused.value.reason
    assert pds.posts == [] and pds.count("com.atproto.repo.createRecord") == 0
    # forgotten: a retry after a fix uploads again
    assert book.uploads.recall("bluesky", "send-1", digest(video(tmp_path))) is None


def test_a_retry_after_the_post_failed_uses_the_processed_video(tmp_path: Path, book: Ledger) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds, processing_polls=1) as service:
        channel = channel_for(pds, service)
        channel.uploads = book.uploads
        item = video(tmp_path)
        pds.fail_next("com.atproto.repo.createRecord", PDSReply(503, {"error": "Unavailable", "message": "down"}))
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        polls = service.count(STATUS)
        channel.publish(post(item), "send-1")
        channel.close()
    assert service.count(UPLOAD) == 1 and service.count(LIMITS) == 1 and service.count(STATUS) == polls
    assert len(pds.posts) == 1


def test_processing_longer_than_the_wait_goes_on_with_the_same_job(tmp_path: Path, book: Ledger) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds, processing_polls=1_000_000) as service:
        channel = channel_for(pds, service, video_timeout=0.3)
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater) as waiting:
            channel.publish(post(item), "send-1")
        service.finish_processing()
        channel.publish(post(item), "send-1")
        channel.close()
    assert "still processing tip1.mp4" in waiting.value.reason
    assert service.count(UPLOAD) == 1 and len(pds.posts) == 1


def test_captions_bluesky_cannot_take_are_refused_before_anything_is_uploaded(tmp_path: Path) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds) as service:
        channel = channel_for(pds, service)
        item = video(tmp_path)
        big = write_vtt(tmp_path / "lang.vtt", *[("00:00:00.000", "00:00:01.000", "x" * 100)] * 250)
        with pytest.raises(Rejected) as refused:
            channel.publish(post(MediaItem(item.path, ALT, "video", (Caption("nl", big),), None, item.video)), "k")
        channel.close()
    assert "lang.vtt" in refused.value.reason and "20,000" in refused.value.reason
    assert service.requests == [] and pds.posts == []


def test_a_processed_video_the_pds_no_longer_holds_is_uploaded_again_not_failed(tmp_path: Path, book: Ledger) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds) as service:
        channel = channel_for(pds, service)
        channel.uploads = book.uploads
        item = video(tmp_path)
        pds.fail_next("com.atproto.repo.createRecord", PDSReply(503, {"error": "Unavailable", "message": "down"}))
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        pds.drop_blobs()  # hours later: the PDS removed the blob no record referred to
        with pytest.raises(RetryLater) as again:
            channel.publish(post(item), "send-1")
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    assert "uploaded again" in again.value.reason
    assert service.count(UPLOAD) == 2 and len(pds.posts) == 1 and receipt.remote_id is not None
    assert pds.posts[0]["embed"]["video"]["ref"]["$link"] in pds.blobs
