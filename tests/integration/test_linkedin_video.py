"""A video on a LinkedIn Page as the Videos API documents it, against the fake LinkedIn over real HTTP:
initializeUpload, each part PUT to its signed URL without the API's headers, the ETags finalized in
order, the status polled until AVAILABLE, then the post; the video's URN kept in the ledger (a real
SQLite file) so a retry or a restart posts the same video, never a second upload; LinkedIn's limits in
`campaign validate`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from scheduler.channels.linkedin.channel import LinkedInChannel
from scheduler.errors import Rejected, RetryLater
from scheduler.media.video import probe
from scheduler.posts import Caption, MediaItem, RenderedPost
from scheduler.publish.ledger import Ledger
from scheduler.publish.store.schema import media_uploads
from tests.builders import run_campaign, write_campaign
from tests.fakes.linkedin_server import ORGANIZATION, TOKEN, VERSION, FakeLinkedIn
from tests.fakes.server import Request
from tests.integration.daemon_helpers import at, campaign, now, states, wait_for
from tests.videos import make_video, pad_video, write_vtt

TEXT = "Tip 1: praat erover (ook anoniem). Kindermishandeling stopt pas als we kijken. #KindVeilig"
ALT = "Kim van Team Kim legt uit waar je terecht kunt."
TITLE = "Tip 1: praat erover"
API_HEADERS = {"authorization", "linkedin-version", "x-restli-protocol-version"}


def channel_for(server: FakeLinkedIn, **settings: Any) -> LinkedInChannel:
    return LinkedInChannel(
        "linkedin", {"author": ORGANIZATION, "token": server.token, "version": VERSION, "api": server.url, **settings}
    )


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    made.upgrade()
    yield made
    made.close()


def video(tmp_path: Path, size: int = 200_000) -> MediaItem:
    """A 4-second MP4 of `size` bytes with Dutch (.vtt) and English (.srt) captions."""
    path = pad_video(make_video(tmp_path / "tip1.mp4", seconds=4.0), size)
    nl = write_vtt(tmp_path / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))
    en = tmp_path / "tip1.en.srt"
    en.write_text("1\n00:00:00,500 --> 00:00:01,700\nTalk about it.\n", encoding="utf-8")
    return MediaItem(path, ALT, "video", (Caption("en", en), Caption("nl", nl)), None, probe(path))


def post(item: MediaItem, text: str = TEXT, title: str | None = TITLE) -> RenderedPost:
    return RenderedPost(post="tips/tip1", channel="linkedin", text=text, media=(item,), language="nl", title=title)


def calls(server: FakeLinkedIn, method: str, path: str, action: str | None = None) -> list[Request]:
    return [
        r
        for r in server.requests
        if (r.method, r.path) == (method, path) and (action is None or r.query.get("action") == [action])
    ]


def kept_rows(book: Ledger) -> int:
    with book.tx() as conn:
        return int(conn.execute(select(func.count()).select_from(media_uploads)).scalar_one())


def test_a_video_goes_up_in_parts_without_api_headers_its_etags_finalized_in_order_then_posted(
    tmp_path: Path, book: Ledger
) -> None:
    with FakeLinkedIn() as server:
        server.part_bytes = 64 * 1024  # 200,000 bytes: four parts
        server.processing_polls = 2
        channel = channel_for(server)
        channel.uploads = book.uploads
        item = video(tmp_path)
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    [init] = calls(server, "POST", "/rest/videos", "initializeUpload")
    assert json.loads(init.body) == {
        "initializeUploadRequest": {
            "owner": ORGANIZATION,
            "fileSizeBytes": 200_000,
            "uploadCaptions": True,
            "uploadThumbnail": False,
        }
    }
    [(urn, held)] = server.videos.items()
    parts = [u for u in server.uploads if "/part/" in u.path]
    assert len(parts) == 4
    assert all(not API_HEADERS & set(u.headers) for u in server.uploads)  # the token never goes to the upload host
    assert server.video_bytes(urn) == item.path.read_bytes()
    [finalize] = calls(server, "POST", "/rest/videos", "finalizeUpload")
    assert json.loads(finalize.body)["finalizeUploadRequest"] == {
        "video": urn,
        "uploadToken": held["token"],
        "uploadedPartIds": [held["etags"][index] for index in range(4)],
    }
    # One captions file, in the post's language, as SubRip (the .vtt converted).
    assert held["captions"] is not None and b"00:00:00,000 --> 00:00:01,500\nPraat erover." in held["captions"]
    looks = [r for r in server.requests if r.method == "GET" and unquote(r.path) == f"/rest/videos/{urn}"]
    assert len(looks) == 3  # PROCESSING twice, then AVAILABLE
    [created] = calls(server, "POST", "/rest/posts")
    assert json.loads(created.body)["content"] == {"media": {"id": urn, "title": TITLE}}
    assert server.posts[0]["content"]["media"]["id"] == urn
    assert receipt.remote_id == server.posts[0]["id"]
    assert kept_rows(book) == 0  # posted: nothing left to reuse


def test_a_video_linkedin_cannot_process_is_rejected_in_its_words_with_nothing_posted(
    tmp_path: Path, book: Ledger
) -> None:
    with FakeLinkedIn() as server:
        server.video_processing_fails = True
        channel = channel_for(server)
        channel.uploads = book.uploads
        with pytest.raises(Rejected) as refused:
            channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    reason = refused.value.reason
    assert "tip1.mp4" in reason and "PROCESSING_FAILED" in reason and "unsupported codec" in reason
    assert server.posts == [] and calls(server, "POST", "/rest/posts") == []
    assert kept_rows(book) == 0  # a retry after a fix uploads anew


def test_a_retry_after_the_post_failed_posts_the_kept_video_without_uploading_it_again(
    tmp_path: Path, book: Ledger
) -> None:
    with FakeLinkedIn() as server:
        server.fail("POST", "/rest/posts", 503, {"status": 503, "message": "Service Unavailable"})
        channel = channel_for(server)
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        assert kept_rows(book) == 1
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    assert len(calls(server, "POST", "/rest/videos", "initializeUpload")) == 1
    assert len(server.uploads) == 2  # one part and one captions file, once
    [urn] = server.videos
    assert [p["content"]["media"]["id"] for p in server.posts] == [urn]
    assert receipt.remote_id == server.posts[0]["id"] and kept_rows(book) == 0


def test_processing_longer_than_one_attempts_wait_is_continued_by_the_next_with_the_same_video(
    tmp_path: Path, book: Ledger
) -> None:
    with FakeLinkedIn() as server:
        server.processing_polls = 1_000_000
        channel = channel_for(server, media_timeout=1.0)
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater) as later:
            channel.publish(post(item), "send-1")
        assert "still processing tip1.mp4" in later.value.reason and kept_rows(book) == 1
        server.processing_polls = 0
        channel.publish(post(item), "send-1")
        channel.close()
    assert len(server.videos) == 1 and len(calls(server, "POST", "/rest/videos", "initializeUpload")) == 1
    assert len(server.posts) == 1


def test_a_kept_video_linkedin_no_longer_has_is_uploaded_anew(tmp_path: Path, book: Ledger) -> None:
    with FakeLinkedIn() as server:
        server.fail("POST", "/rest/posts", 503, {"status": 503, "message": "Service Unavailable"})
        channel = channel_for(server)
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        with server.lock:
            server.videos.clear()  # LinkedIn dropped the unused video
        channel.publish(post(item), "send-1")
        channel.close()
    assert len(calls(server, "POST", "/rest/videos", "initializeUpload")) == 2
    [(urn, _)] = server.videos.items()
    assert [p["content"]["media"]["id"] for p in server.posts] == [urn]


def test_a_pause_after_the_upload_keeps_the_video_unposted(tmp_path: Path, book: Ledger) -> None:
    class Paused:
        def paused(self, channel: str) -> str | None:
            return "paused: nieuws vraagt om stilte"

    with FakeLinkedIn() as server:
        channel = channel_for(server)
        channel.uploads = book.uploads
        channel.pauses = Paused()
        with pytest.raises(RetryLater) as later:
            channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    assert "paused: nieuws vraagt om stilte" in later.value.reason
    assert server.posts == [] and calls(server, "POST", "/rest/posts") == [] and kept_rows(book) == 1


def test_a_video_part_uploads_over_a_link_slower_than_the_connect_timeout_allows(tmp_path: Path) -> None:
    # A 12 MB part at 1.5 MB/s: 8 s of sending, more than the kernel's buffers hold. A body is sent under the
    # connect timeout (5 s), which would end the upload half-way; a part's timeout follows its size.
    with FakeLinkedIn() as server:
        server.upload_rate = 1_500_000
        server.part_bytes = 12_000_000
        channel = channel_for(server)
        item = video(tmp_path, size=12_000_000)
        channel.publish(post(item), "send-1")
        channel.close()
    [urn] = server.videos
    assert server.video_bytes(urn) == item.path.read_bytes()
    assert len(server.posts) == 1


def test_a_video_outside_linkedins_limits_is_refused_before_anything_is_uploaded(tmp_path: Path) -> None:
    path = make_video(tmp_path / "kort.mp4", seconds=2.0)  # under 3 seconds and under 75 KB
    item = MediaItem(path, ALT, "video", no_captions="geen spraak", video=probe(path))
    with FakeLinkedIn() as server:
        channel = channel_for(server)
        with pytest.raises(Rejected) as refused:
            channel.publish(post(item), "send-1")
        channel.close()
    assert "kort.mp4" in refused.value.reason
    assert "LinkedIn takes videos of at least 75,000" in refused.value.reason
    assert "LinkedIn takes videos of at least 3" in refused.value.reason
    assert server.requests == []


def test_a_video_with_an_image_is_refused_before_anything_is_uploaded(tmp_path: Path) -> None:
    photo = tmp_path / "handen.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with FakeLinkedIn() as server:
        channel = channel_for(server)
        item = video(tmp_path)
        with pytest.raises(Rejected) as refused:
            channel.publish(RenderedPost("tips/tip1", "linkedin", TEXT, (item, MediaItem(photo, ALT))), "send-1")
        channel.close()
    assert "a video goes alone in a post on LinkedIn" in refused.value.reason
    assert server.requests == []


# -- validate and the daemon ---------------------------------------------------------------------------

CHANNELS = (
    "channels:\n"
    '  linkedin: {type: linkedin, author: "urn:li:organization:123", token: "${LINKEDIN_TOKEN}", version: "202611"}\n'
)


def video_post(path: str, when: str = "2030-11-15 09:00") -> str:
    return (
        f'---\npublish_at: {when}\nchannels: [linkedin]\ntitle: "{TITLE}"\nmedia:\n'
        f"  - path: {path}\n    alt: {ALT}\n    captions: {{nl: tip1.nl.vtt}}\n---\n{TEXT}\n"
    )


def test_validate_names_linkedin_and_each_limit_a_video_is_outside(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"tips/kort.md": video_post("media/kort.mp4"), "tips/lang.md": video_post("media/lang.mp4")},
        channels=CHANNELS,
    )
    make_video(tmp_path / "media" / "kort.mp4", seconds=2.0)
    make_video(tmp_path / "media" / "lang.mp4", seconds=1801.0, width=32, height=32, fps=1, audio=False)
    pad_video(tmp_path / "media" / "lang.mp4", 100_000)
    write_vtt(tmp_path / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if "error: linkedin: " in line]
    assert any(
        line.startswith("posts/tips/kort.md:")
        and "media/kort.mp4 is 2.0 seconds long; LinkedIn takes videos of at least 3 seconds" in line
        for line in errors
    ), result.stdout
    assert any(
        "media/kort.mp4 is" in line and "KB; LinkedIn takes videos of at least 75.0 KB" in line for line in errors
    )
    assert any(
        "media/lang.mp4 is 1801.0 seconds long; LinkedIn takes videos up to 1800 seconds" in line for line in errors
    )
    assert not any("media/lang.mp4 is" in line and "KB" in line for line in errors)


def test_validate_takes_a_video_within_linkedins_limits(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"tips/tip1.md": video_post("media/tip1.mp4")}, channels=CHANNELS)
    pad_video(make_video(tmp_path / "media" / "tip1.mp4", seconds=4.0), 100_000)
    write_vtt(tmp_path / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_daemon_posts_a_video_once_with_its_captions(tmp_path: Path) -> None:
    with FakeLinkedIn() as server:
        server.part_bytes = 64 * 1024
        channels = (
            "channels:\n"
            f"  linkedin: {{type: linkedin, author: '{ORGANIZATION}', token: '${{LINKEDIN_TOKEN}}',"
            f" version: '{VERSION}', api: '{server.url}'}}\n"
        )
        when = at(now() - timedelta(minutes=1))
        write_campaign(tmp_path, {"tips/tip1.md": video_post("media/tip1.mp4", when)}, channels=channels)
        pad_video(make_video(tmp_path / "media" / "tip1.mp4", seconds=4.0), 150_000)
        write_vtt(tmp_path / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))
        run = campaign(tmp_path, "run", "--once", env={"LINKEDIN_TOKEN": TOKEN})
        assert run.returncode == 0, run.stderr
    assert states(tmp_path) == {("tips/tip1", "linkedin"): "published"}
    [(urn, held)] = server.videos.items()
    assert server.video_bytes(urn) == (tmp_path / "media" / "tip1.mp4").read_bytes()
    assert held["captions"] is not None and b"Praat erover." in held["captions"]
    [published] = server.posts
    assert published["content"] == {"media": {"id": urn, "title": TITLE}}
    assert TOKEN not in run.stdout + run.stderr


def daemon_campaign(root: Path, server: FakeLinkedIn, extra: str = "") -> None:
    channels = (
        "channels:\n"
        f"  linkedin: {{type: linkedin, author: '{ORGANIZATION}', token: '${{LINKEDIN_TOKEN}}',"
        f" version: '{VERSION}', api: '{server.url}'{extra}}}\n"
    )
    when = at(now() - timedelta(minutes=1))
    write_campaign(root, {"tips/tip1.md": video_post("media/tip1.mp4", when)}, channels=channels)
    pad_video(make_video(root / "media" / "tip1.mp4", seconds=4.0), 150_000)
    write_vtt(root / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))


def test_a_restarted_daemon_posts_the_video_the_last_one_left_processing_without_uploading_it_again(
    tmp_path: Path,
) -> None:
    with FakeLinkedIn() as server:
        server.processing_polls = 1_000_000
        daemon_campaign(tmp_path, server, ", media_timeout: 1")
        first = campaign(tmp_path, "run", "--once", env={"LINKEDIN_TOKEN": TOKEN})
        assert states(tmp_path) == {("tips/tip1", "linkedin"): "retry"}, first.stderr
        assert server.posts == [] and len(server.videos) == 1
        server.processing_polls = 0

        def published() -> bool:
            campaign(tmp_path, "run", "--once", env={"LINKEDIN_TOKEN": TOKEN})  # a new process each time
            return states(tmp_path) == {("tips/tip1", "linkedin"): "published"}

        assert wait_for(published, timeout=90)
    assert len(calls(server, "POST", "/rest/videos", "initializeUpload")) == 1
    [urn] = server.videos
    assert [p["content"]["media"]["id"] for p in server.posts] == [urn]


def test_an_answer_lost_after_linkedin_posted_the_video_is_settled_by_lookup_with_one_post(tmp_path: Path) -> None:
    with FakeLinkedIn() as server:
        server.drop_after_processing("POST", "/rest/posts")
        daemon_campaign(tmp_path, server)
        run = campaign(tmp_path, "run", "--once", env={"LINKEDIN_TOKEN": TOKEN})
        assert run.returncode == 0, run.stderr
    assert states(tmp_path) == {("tips/tip1", "linkedin"): "published"}
    assert len(server.posts) == 1 and len(calls(server, "POST", "/rest/posts")) == 1
    assert len(calls(server, "POST", "/rest/videos", "initializeUpload")) == 1
