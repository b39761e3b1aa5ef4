"""A video on a Facebook Page as the Graph API documents it, against the fake Graph over real HTTP: the
chunked upload (start, transfer from each offset Graph names, finish unpublished with the text as its
description), the status polled until `ready`, each captions file as `name.nl_NL.srt`, then published;
the video's id kept in the ledger (a real SQLite file or PostgreSQL) so a retry or a restart of the real
daemon continues with it, one video, and never published during a pause."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from scheduler.channels.facebook import FacebookChannel
from scheduler.channels.facebook.videos import locale_of
from scheduler.errors import InDoubt, Rejected, RetryLater
from scheduler.media.video import probe
from scheduler.posts import Caption, MediaItem, RenderedPost
from scheduler.publish.ledger import Ledger
from scheduler.publish.store.schema import media_uploads
from tests.builders import run_campaign
from tests.fakes.facebook_server import PAGE_ID, TOKEN, FakeGraph
from tests.integration.daemon_helpers import at, campaign, daemon, ledger, now, states, stop, wait_for
from tests.videos import make_video, write_vtt

TEXT = "Tip 1: praat erover. Kindermishandeling stopt pas als we kijken."
ALT = "Kim van Team Kim legt uit waar je terecht kunt."
ENV = {"FACEBOOK_PAGE_TOKEN": TOKEN}


def channel_for(graph: FakeGraph, **settings: Any) -> FacebookChannel:
    return FacebookChannel("facebook", {"page_id": PAGE_ID, "token": TOKEN, "graph": graph.url, **settings})


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    made.upgrade()
    yield made
    made.close()


def video(tmp_path: Path) -> MediaItem:
    path = make_video(tmp_path / "tip1.mp4", seconds=2.0)
    nl = write_vtt(tmp_path / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))
    en = tmp_path / "tip1.en.srt"
    en.write_text("1\n00:00:00,500 --> 00:00:01,700\nTalk about it.\n", encoding="utf-8")
    return MediaItem(path, ALT, "video", (Caption("nl", nl), Caption("en", en)), None, probe(path))


def post(item: MediaItem, text: str = TEXT) -> RenderedPost:
    return RenderedPost(post="tips/tip1", channel="facebook", text=text, media=(item,))


def phases(graph: FakeGraph) -> list[str]:
    return [r.value("upload_phase") or "" for r in graph.requests if r.method == "POST" and r.path.endswith("/videos")]


def kept_rows(book: Ledger) -> int:
    with book.tx() as conn:
        return int(conn.execute(select(func.count()).select_from(media_uploads)).scalar_one())


def test_a_video_goes_out_unpublished_first_then_captioned_then_published(tmp_path: Path, book: Ledger) -> None:
    with FakeGraph(processing_polls=2) as graph:
        channel = channel_for(graph)
        channel.uploads = book.uploads
        item = video(tmp_path)
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    [(video_id, held)] = graph.videos.items()
    size = item.path.stat().st_size
    chunks = -(-size // graph.chunk_bytes)
    assert phases(graph) == ["start", *["transfer"] * chunks, "finish"]  # the offsets Graph named, in order
    assert held["data"] == item.path.read_bytes()
    assert held["description"] == TEXT and held["published"] is True
    finish = next(r for r in graph.requests if r.value("upload_phase") == "finish")
    assert finish.value("published") == "false"  # nothing shows before its captions are in
    statuses = [r for r in graph.requests if r.method == "GET" and r.path.endswith(f"/{video_id}")]
    assert len([r for r in statuses if "status" in (r.value("fields") or "")]) == 3  # processing ×2, ready
    assert [step for _, step in graph.events] == ["start", "finish", "caption:nl_NL", "caption:en_US", "publish"]
    assert "00:00:00,000 --> 00:00:01,500\nPraat erover." in held["captions"]["nl_NL"]  # the .vtt sent as SRT
    assert held["captions"]["en_US"] == (tmp_path / "tip1.en.srt").read_text(encoding="utf-8")
    caption = next(r for r in graph.requests if r.path.endswith("/captions") and r.method == "POST")
    assert caption.files["captions_file"].filename == "tip1.nl_NL.srt" and caption.value("locale") == "nl_NL"
    assert receipt.remote_id == video_id and receipt.url == f"https://www.facebook.com/{PAGE_ID}/videos/{video_id}"
    assert kept_rows(book) == 0


def test_a_captions_language_becomes_a_facebook_locale() -> None:
    codes = ("nl", "nl-BE", "en", "fy", "pt_BR", "zh-Hant")
    assert [locale_of(code) for code in codes] == ["nl_NL", "nl_BE", "en_US", "fy_NL", "pt_BR", "zh_TW"]


def test_a_video_facebook_cannot_process_is_refused_never_published_and_not_kept(tmp_path: Path, book: Ledger) -> None:
    with FakeGraph(processing_polls=1) as graph:
        graph.failed_processing = True
        channel = channel_for(graph)
        channel.uploads = book.uploads
        with pytest.raises(Rejected) as refused:
            channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    assert "tip1.mp4" in refused.value.reason and "Video Format Is Not Supported" in refused.value.reason
    assert [step for _, step in graph.events] == ["start", "finish"]
    assert not any(v["published"] for v in graph.videos.values()) and kept_rows(book) == 0


def test_processing_longer_than_one_attempts_wait_is_continued_by_the_next_with_the_same_video(
    tmp_path: Path, book: Ledger
) -> None:
    with FakeGraph(processing_polls=1_000_000) as graph:
        channel = channel_for(graph, media_timeout=1.0)
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater) as later:
            channel.publish(post(item), "send-1")
        assert "still processing tip1.mp4" in later.value.reason and kept_rows(book) == 1
        graph.finish_processing()
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    assert len(graph.videos) == 1 and phases(graph).count("start") == 1
    assert receipt.remote_id in graph.videos and graph.videos[receipt.remote_id]["published"] is True


def test_a_retry_after_publishing_failed_adds_no_caption_twice(tmp_path: Path, book: Ledger) -> None:
    with FakeGraph() as graph:
        graph.publish_outages = 1  # the publishing step answers a transient error once
        channel = channel_for(graph)
        channel.uploads = book.uploads
        item = video(tmp_path)
        with pytest.raises(RetryLater):
            channel.publish(post(item), "send-1")
        receipt = channel.publish(post(item), "send-1")
        channel.close()
    assert phases(graph).count("start") == 1
    assert [step for _, step in graph.events] == ["start", "finish", "caption:nl_NL", "caption:en_US", "publish"]
    assert graph.videos[str(receipt.remote_id)]["published"] is True


def test_a_pause_before_the_publishing_step_keeps_the_video_unpublished(tmp_path: Path, book: Ledger) -> None:
    class Paused:
        def paused(self, channel: str) -> str | None:
            return "paused: nieuws vraagt om stilte"

    with FakeGraph() as graph:
        channel = channel_for(graph)
        channel.uploads = book.uploads
        channel.pauses = Paused()
        with pytest.raises(RetryLater) as later:
            channel.publish(post(video(tmp_path)), "send-1")
        channel.close()
    assert "stays unpublished" in later.value.reason
    [held] = graph.videos.values()
    assert held["published"] is False and "publish" not in [step for _, step in graph.events]


def test_a_video_over_facebooks_limit_is_refused_before_anything_is_uploaded(tmp_path: Path) -> None:
    big = tmp_path / "groot.mp4"
    with big.open("wb") as handle:
        handle.truncate(10_000_000_001)  # sparse: its size is all that is read
    with FakeGraph() as graph:
        channel = channel_for(graph)
        with pytest.raises(Rejected) as refused:
            channel.publish(post(MediaItem(big, "Groot.", "video", no_captions="geen spraak")), "send-1")
        channel.close()
    assert "groot.mp4" in refused.value.reason and "10,000,000,000" in refused.value.reason
    assert phases(graph) == [] and graph.videos == {}


def test_an_answer_lost_after_facebook_published_is_settled_by_the_video_kept_in_the_ledger(
    tmp_path: Path, book: Ledger
) -> None:
    with FakeGraph() as graph:
        channel = channel_for(graph)
        channel.uploads = book.uploads
        item = MediaItem(make_video(tmp_path / "tip1.mp4"), ALT, "video", no_captions="geen spraak")
        first_id = str(100_000_000_000_001)  # the fake's first id: this video's, named at `start`
        graph.drop_after_processing("POST", f"/v25.0/{first_id}")  # published, the answer lost
        since = datetime.now(UTC)
        with pytest.raises(InDoubt):
            channel.publish(post(item), "send-1")
        found = channel.lookup("send-1", post(item), since)
        channel.close()
    assert [step for _, step in graph.events] == ["start", "finish", "publish"]
    assert found is not None and found.remote_id == first_id and graph.videos[first_id]["published"] is True


def test_lookup_without_the_ledger_finds_the_published_video_by_its_text(tmp_path: Path) -> None:
    with FakeGraph() as graph:
        channel = channel_for(graph)
        item = video(tmp_path)
        since = datetime.now(UTC)
        with pytest.raises(InDoubt):
            channel.lookup("send-1", post(item), since)  # nothing on the Page: a person decides
        published = channel.publish(post(item), "send-1")
        found = channel.lookup("send-1", post(item), since)
        channel.close()
    assert found == published


def test_a_published_videos_counts_and_comments_are_read_from_the_video(tmp_path: Path) -> None:
    with FakeGraph() as graph:
        channel = channel_for(graph)
        published = channel.publish(post(video(tmp_path)), "send-1")
        video_id = str(published.remote_id)
        graph.set_counts(video_id, reactions=7, comments=1)
        graph.add_comment(video_id, "Waar kan ik terecht?")
        counted = channel.counts([published])
        replies = channel.replies_to(published)
        channel.close()
    assert counted[video_id].likes == 7 and counted[video_id].replies == 1 and counted[video_id].reposts is None
    assert [reply.text for reply in replies] == ["Waar kan ik terecht?"]


# -- the campaign as a user runs it ---------------------------------------------------------------


def write_video_campaign(root: Path, graph: FakeGraph) -> None:
    (root / "posts").mkdir(parents=True)
    (root / "channels.yml").write_text(
        f"channels:\n  facebook: {{type: facebook, page_id: '{PAGE_ID}', token: '${{FACEBOOK_PAGE_TOKEN}}',"
        f" graph: '{graph.url}'}}\n",
        encoding="utf-8",
    )
    (root / "posts" / "_defaults.yml").write_text("campaign: Test\ntimezone: Europe/Amsterdam\n", encoding="utf-8")
    (root / "posts" / "tip1.md").write_text(
        f"---\npublish_at: {at(now() - timedelta(minutes=1))}\nchannels: [facebook]\nmedia:\n"
        f"  - path: media/tip1.mp4\n    alt: {ALT}\n    captions: {{nl: tip1.nl.vtt}}\n---\n{TEXT}\n",
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


def kept(root: Path, db: str | None = None) -> list[str]:
    made = ledger(root, db)
    try:
        with made.tx() as conn:
            return [row.remote_id for row in conn.execute(select(media_uploads.c.remote_id))]
    finally:
        made.close()


def test_validate_takes_a_video_for_facebook_and_run_publishes_it(tmp_path: Path) -> None:
    with FakeGraph(processing_polls=2) as graph:
        write_video_campaign(tmp_path, graph)
        checked = run_campaign(tmp_path, "validate")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "not built yet" not in checked.stdout + checked.stderr
        result = campaign(tmp_path, "run", "--once", env=ENV)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path) == {("tip1", "facebook"): "published"}
        [held] = graph.videos.values()
        assert held["published"] is True and held["data"] == (tmp_path / "media" / "tip1.mp4").read_bytes()
        assert list(held["captions"]) == ["nl_NL"]
    assert kept(tmp_path) == []


def test_a_video_facebook_cannot_process_fails_with_an_alert_and_is_never_published(tmp_path: Path) -> None:
    with FakeGraph(processing_polls=1) as graph:
        graph.failed_processing = True
        write_video_campaign(tmp_path, graph)
        for _ in range(2):  # the second run sends nothing again
            result = campaign(tmp_path, "run", "--once", env=ENV)
            assert result.returncode in (0, 1), result.stderr
        assert states(tmp_path) == {("tip1", "facebook"): "failed"}
        assert phases(graph).count("start") == 1 and not any(v["published"] for v in graph.videos.values())
    made = ledger(tmp_path)
    try:
        [alert] = [a for a in made.alerts.latest() if a.kind == "failed"]
    finally:
        made.close()
    assert "tip1.mp4" in alert.message and "could not process" in alert.message
    assert kept(tmp_path) == []


def test_a_daemon_killed_between_the_upload_and_publishing_publishes_that_one_video_next_time(
    tmp_path: Path, db: str | None
) -> None:
    with FakeGraph(processing_polls=1_000_000) as graph:
        write_video_campaign(tmp_path, graph)
        first = daemon(tmp_path, db=db, **ENV)
        try:
            # Uploaded (unpublished), its id in the ledger, and being processed: nothing is out.
            assert wait_for(lambda: len(graph.videos) == 1 and any(v.startswith("video:") for v in kept(tmp_path, db)))
        finally:
            first.send_signal(signal.SIGKILL)
            logs = first.communicate(timeout=15)
        [held] = graph.videos.values()
        assert held["published"] is False
        graph.finish_processing()

        # A pause came meanwhile: the next run publishes nothing.
        paused = campaign(tmp_path, "pause", "--reason", "nieuws vraagt om stilte", db=db)
        assert paused.returncode == 0, paused.stderr
        result = campaign(tmp_path, "run", "--once", db=db, env=ENV)
        assert result.returncode in (0, 1), result.stderr
        assert held["published"] is False

        resumed = campaign(tmp_path, "resume", "--reason", "rustig", db=db)
        assert resumed.returncode == 0, resumed.stderr
        result = campaign(tmp_path, "run", "--once", db=db, env=ENV)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path, db) == {("tip1", "facebook"): "published"}
        assert len(graph.videos) == 1 and phases(graph).count("start") == 1  # the same video, never uploaded again
        assert [step for _, step in graph.events] == ["start", "finish", "caption:nl_NL", "publish"]
        assert [v["published"] for v in graph.videos.values()] == [True]
    assert kept(tmp_path, db) == []
    for text in (*logs, result.stdout, result.stderr):
        assert TOKEN not in text


def test_a_pause_that_comes_while_the_video_is_processed_keeps_it_unpublished(tmp_path: Path) -> None:
    with FakeGraph(processing_polls=1_000_000) as graph:
        write_video_campaign(tmp_path, graph)
        running = daemon(tmp_path, **ENV)
        try:
            assert wait_for(lambda: len(graph.videos) == 1)  # the send began before the pause
            paused = campaign(tmp_path, "pause", "--reason", "nieuws vraagt om stilte")
            assert paused.returncode == 0, paused.stderr
            graph.finish_processing()
            assert wait_for(lambda: states(tmp_path)[("tip1", "facebook")] in ("retry", "pending"), timeout=60)
            [held] = graph.videos.values()
            assert held["published"] is False

            resumed = campaign(tmp_path, "resume", "--reason", "rustig")
            assert resumed.returncode == 0, resumed.stderr
            assert wait_for(lambda: states(tmp_path) == {("tip1", "facebook"): "published"}, timeout=90)
        finally:
            stop(running)
    assert [v["published"] for v in graph.videos.values()] == [True]
