"""A video post on Bluesky as a user runs it: `campaign validate` against Bluesky's limits, and the daemon
publishing through the video service (fake PDS and fake video service on 127.0.0.1), with the job kept in
the ledger so that a restart between the upload and the post uses it, and one post goes out."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from scheduler.publish.store.schema import media_uploads
from tests.builders import run_campaign, write_campaign
from tests.fakes.bluesky_server import FakePDS
from tests.fakes.bluesky_video_server import STATUS, UPLOAD, FakeVideoService
from tests.integration.daemon_helpers import at, campaign, daemon, ledger, now, states, wait_for
from tests.videos import make_video, write_vtt

PASSWORD = "app-pass-1234"
ALT = "Kim van Team Kim legt uit waar je terecht kunt."


def write_video_campaign(root: Path, pds: FakePDS, service: FakeVideoService) -> None:
    (root / "posts").mkdir(parents=True)
    (root / "channels.yml").write_text(
        f"channels:\n  bluesky: {{type: bluesky, handle: {pds.handle}, app_password: '${{SKY_PASSWORD}}', "
        f"pds: '{pds.url}', video_service: '{service.url}'}}\n",
        encoding="utf-8",
    )
    (root / "posts" / "_defaults.yml").write_text("campaign: Test\ntimezone: Europe/Amsterdam\n", encoding="utf-8")
    (root / "posts" / "tip1.md").write_text(
        f"---\npublish_at: {at(now() - timedelta(minutes=1))}\nchannels: [bluesky]\nmedia:\n"
        f"  - path: media/tip1.mp4\n    alt: {ALT}\n    captions: {{nl: tip1.nl.vtt}}\n---\nTip 1: praat erover.\n",
        encoding="utf-8",
    )
    make_video(root / "media" / "tip1.mp4", seconds=2.0)
    write_vtt(root / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.800", "Praat erover."))


def kept_uploads(root: Path, db: str | None = None) -> int:
    book = ledger(root, db)
    try:
        with book.tx() as conn:
            return int(conn.execute(select(func.count()).select_from(media_uploads)).scalar_one())
    finally:
        book.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    result = campaign(tmp_path, "db", "upgrade", db=url)
    assert result.returncode == 0, result.stderr
    return url


def test_validate_takes_a_video_for_bluesky_and_names_its_3_minute_limit(tmp_path: Path) -> None:
    channels = "channels:\n  bluesky: {type: dryrun, like: bluesky}\n"
    media = "media:\n  - path: media/{name}\n    alt: Kim legt uit.\n    captions: {{nl: tip1.nl.vtt}}\n"
    posts = {
        f"tips/{name}.md": f"---\npublish_at: 2030-11-{day} 09:00\nchannels: [bluesky]\n{media.format(name=name + '.mp4')}"
        f"---\nTip {day} van Team Kim.\n"
        for day, name in ((15, "short"), (16, "long"))
    }
    write_campaign(tmp_path, posts, channels=channels)
    make_video(tmp_path / "media" / "short.mp4", seconds=2.0)
    make_video(tmp_path / "media" / "long.mp4", seconds=181.0, width=32, height=32, fps=1, audio=False)
    write_vtt(tmp_path / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.500", "Praat erover."))
    result = run_campaign(tmp_path, "validate")
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1
    assert not any("short" in line for line in errors), result.stdout  # before: "sending video ... not built yet"
    assert any(line.startswith("posts/tips/long.md:") and "Bluesky" in line and "180" in line for line in errors), (
        result.stdout
    )


def test_the_daemon_publishes_a_video_on_bluesky_after_several_polls(tmp_path: Path) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds, processing_polls=3) as service:
        write_video_campaign(tmp_path, pds, service)
        result = campaign(tmp_path, "run", "--once", SKY_PASSWORD=PASSWORD)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path) == {("tip1", "bluesky"): "published"}
        [record] = pds.posts
        embed = record["embed"]
        assert embed["$type"] == "app.bsky.embed.video" and embed["alt"] == ALT
        assert pds.blobs[embed["video"]["ref"]["$link"]][0] == (tmp_path / "media" / "tip1.mp4").read_bytes()
        [caption] = embed["captions"]
        assert caption["lang"] == "nl" and pds.blobs[caption["file"]["ref"]["$link"]][1] == "text/vtt"
        assert service.count(UPLOAD) == 1 and service.count(STATUS) == 4
    assert kept_uploads(tmp_path) == 0  # attached: nothing left to reuse


def test_a_video_bluesky_cannot_process_fails_with_an_alert_and_is_never_posted(tmp_path: Path) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds, processing_polls=1) as service:
        service.failed_processing = True
        write_video_campaign(tmp_path, pds, service)
        for _ in range(2):  # the second run sends nothing again
            result = campaign(tmp_path, "run", "--once", SKY_PASSWORD=PASSWORD)
            assert result.returncode in (0, 1), result.stderr
        assert states(tmp_path) == {("tip1", "bluesky"): "failed"}
        assert pds.posts == [] and pds.count("com.atproto.repo.createRecord") == 0
        assert service.count(UPLOAD) == 1
    book = ledger(tmp_path)
    try:
        [alert] = [a for a in book.alerts.latest() if a.kind == "failed"]
    finally:
        book.close()
    assert "tip1.mp4" in alert.message and "could not process" in alert.message
    assert kept_uploads(tmp_path) == 0


@pytest.mark.parametrize("gone", [False, True], ids=["reused", "job-gone-so-redone"])
def test_a_daemon_killed_between_the_upload_and_the_post_makes_one_post(
    tmp_path: Path, gone: bool, db: str | None
) -> None:
    with FakePDS(password=PASSWORD) as pds, FakeVideoService(pds, processing_polls=1_000_000) as service:
        write_video_campaign(tmp_path, pds, service)
        first = daemon(tmp_path, db=db, SKY_PASSWORD=PASSWORD)
        try:
            # Uploaded, its job kept in the ledger, and being processed: the post has not been asked for.
            assert wait_for(lambda: service.count(STATUS) >= 2 and kept_uploads(tmp_path, db) == 1)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=15)
        assert pds.posts == []
        service.finish_processing()
        if gone:  # the service no longer knows the job: the video is uploaded again
            with service.lock:
                service.jobs.clear()
                service._by_digest.clear()
        result = campaign(tmp_path, "run", "--once", db=db, SKY_PASSWORD=PASSWORD)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path, db) == {("tip1", "bluesky"): "published"}
        [record] = pds.posts
        assert record["embed"]["$type"] == "app.bsky.embed.video"
        assert service.count(UPLOAD) == (2 if gone else 1)
        assert pds.count("com.atproto.repo.createRecord") == 1
    assert kept_uploads(tmp_path, db) == 0
