"""A video's upload never holds the other due posts back (issue #21): the daemon sends it in its upload
lane (scheduler/publish/lane.py) and goes on claiming and sending the rest. A video is "still uploading"
here while the fake Mastodon keeps its upload processing (`processing_polls`), until the test ends it:
the order of the statuses the server received is asserted, never a duration."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.integration.daemon_helpers import at, campaign, daemon, env_for, ledger, now, soon, states, stop, wait_for
from tests.videos import make_video, pad_video, write_vtt

FOREVER = 1_000_000  # polls: the upload stays in processing until finish_processing()


def write_campaign(root: Path, mastodon: FakeMastodon, videos: dict[str, datetime], texts: dict[str, datetime]) -> None:
    """Posts on one Mastodon channel: `videos` each with a video and its captions, `texts` text only."""
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(
        "channels:\n  mastodon: {type: mastodon, instance: '"
        + mastodon.url
        + "', token: '${MASTODON_TOKEN}', media_timeout: 600}\n",
        encoding="utf-8",
    )
    (root / "posts" / "_defaults.yml").write_text(
        "campaign: Test\ntimezone: Europe/Amsterdam\nchannels: [mastodon]\n", encoding="utf-8"
    )
    for name, due in videos.items():
        make_video(root / "media" / f"{name}.mp4", seconds=1.0)
        write_vtt(root / "media" / f"{name}.nl.vtt", ("00:00:00.000", "00:00:00.900", "Praat erover."))
        (root / "posts" / f"{name}.md").write_text(
            f"---\npublish_at: {at(due)}\nmedia:\n  - path: media/{name}.mp4\n    alt: Kim legt uit wat je kunt doen.\n"
            f"    captions: {{nl: {name}.nl.vtt}}\n---\nVideo {name}: praat erover.\n",
            encoding="utf-8",
        )
    for name, due in texts.items():
        (root / "posts" / f"{name}.md").write_text(
            f"---\npublish_at: {at(due)}\n---\nTekst {name}: zie je iets, zeg iets.\n", encoding="utf-8"
        )


def posted(mastodon: FakeMastodon) -> list[str]:
    """The statuses the server received, in order: the first word after "Video"/"Tekst" (the post's name)."""
    with mastodon.lock:
        return [status["text"].split()[1].rstrip(":") for status in mastodon.statuses]


def uploading(mastodon: FakeMastodon, uploads: int = 1) -> bool:
    """The daemon uploaded `uploads` videos and polls their processing (its send is under way)."""
    with mastodon.lock:
        polls = sum(1 for r in mastodon.requests if r.method == "GET" and r.path.startswith("/api/v1/media/"))
        return len(mastodon.uploads) >= uploads and polls >= 1


def history(root: Path, db: str | None = None) -> list[tuple[str, str]]:
    book = ledger(root, db)
    try:
        return [(a.post, a.outcome) for a in book.views.history()]
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


def test_a_text_post_due_during_a_video_upload_goes_out_before_the_video(tmp_path: Path) -> None:
    with FakeMastodon(processing_polls=FOREVER) as mastodon:
        write_campaign(tmp_path, mastodon, {"v1": now() - timedelta(minutes=1)}, {"t1": soon(2), "t2": soon(3)})
        process = daemon(tmp_path, MASTODON_TOKEN=TOKEN)
        try:
            assert wait_for(lambda: uploading(mastodon), timeout=60), "the video's upload began"
            assert wait_for(lambda: len(posted(mastodon)) >= 2, timeout=60), "the texts went out during the upload"
            assert posted(mastodon) == ["t1", "t2"]
            assert states(tmp_path)[("v1", "mastodon")] == "sending"
            mastodon.finish_processing()
            assert wait_for(lambda: states(tmp_path)[("v1", "mastodon")] == "published", timeout=60)
        finally:
            stop(process)
    assert posted(mastodon) == ["t1", "t2", "v1"]
    assert states(tmp_path) == {(p, "mastodon"): "published" for p in ("v1", "t1", "t2")}
    assert Counter(post for post, outcome in history(tmp_path) if outcome == "published") == {"v1": 1, "t1": 1, "t2": 1}


def test_a_sigterm_during_a_video_upload_stops_cleanly_and_the_next_run_sends_it_once(
    tmp_path: Path, db: str | None
) -> None:
    with FakeMastodon(processing_polls=FOREVER) as mastodon:
        videos = {"v1": now() - timedelta(minutes=2), "v2": now() - timedelta(minutes=1)}
        write_campaign(tmp_path, mastodon, videos, {})
        process = daemon(tmp_path, db=db, MASTODON_TOKEN=TOKEN)
        try:
            assert wait_for(lambda: uploading(mastodon), timeout=60)
            # v2, claimed meanwhile, waits in the lane behind v1.
            assert wait_for(lambda: states(tmp_path, db)[("v2", "mastodon")] == "sending", timeout=60)
        finally:
            err = stop(process)  # exit 0, with v1's upload still under way in the lane
        assert "stopping during the send of v1 on mastodon" in err
        assert states(tmp_path, db) == {("v1", "mastodon"): "sending", ("v2", "mastodon"): "pending"}
        assert ("v2", "interrupted") in history(tmp_path, db), "put back: it never started"
        assert mastodon.statuses == []
        mastodon.finish_processing()
        mastodon.processing_polls = 0
        again = campaign(tmp_path, "run", "--once", db=db, MASTODON_TOKEN=TOKEN)
        assert again.returncode == 0, again.stderr
        assert states(tmp_path, db) == {("v1", "mastodon"): "published", ("v2", "mastodon"): "published"}
        assert sorted(posted(mastodon)) == ["v1", "v2"]
        assert len(mastodon.uploads) == 2, "the upload the stopped daemon made is reused"


def test_run_once_exits_only_after_the_video_send_is_recorded(tmp_path: Path) -> None:
    with FakeMastodon(processing_polls=FOREVER) as mastodon:
        due = now() - timedelta(minutes=1)
        write_campaign(tmp_path, mastodon, {"v1": due}, {"t1": due + timedelta(seconds=1)})
        once = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run", "--once"],
            env=env_for(tmp_path, MASTODON_TOKEN=TOKEN),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_for(lambda: posted(mastodon) == ["t1"] and uploading(mastodon), timeout=60)
            assert once.poll() is None, "run --once waits for the video's send"
            assert states(tmp_path)[("v1", "mastodon")] == "sending"
            mastodon.finish_processing()
            out, err = once.communicate(timeout=60)
        finally:
            if once.poll() is None:
                once.kill()
                once.communicate()
    assert once.returncode == 0, err
    assert states(tmp_path) == {("v1", "mastodon"): "published", ("t1", "mastodon"): "published"}
    assert posted(mastodon) == ["t1", "v1"]
    assert "published  v1 on mastodon" in out and "published  t1 on mastodon" in out


def test_a_pause_during_a_video_upload_holds_every_send_not_yet_started(tmp_path: Path) -> None:
    with FakeMastodon(processing_polls=FOREVER) as mastodon:
        later = soon(8)
        write_campaign(
            tmp_path,
            mastodon,
            {"v1": now() - timedelta(minutes=2), "v2": now() - timedelta(minutes=1)},
            {"t1": later},
        )
        process = daemon(tmp_path, MASTODON_TOKEN=TOKEN)
        try:
            # v1 uploads in the lane; v2, claimed meanwhile, waits in the lane behind it.
            assert wait_for(lambda: uploading(mastodon), timeout=60)
            assert wait_for(lambda: states(tmp_path)[("v2", "mastodon")] == "sending", timeout=60)
            paused = campaign(tmp_path, "pause", "--reason", "nieuws vraagt om stilte")
            assert paused.returncode == 0, paused.stderr
            mastodon.finish_processing()  # v1 passed its pause check before the pause: it ends
            assert wait_for(lambda: ("v2", "paused") in history(tmp_path), timeout=60), history(tmp_path)
            time.sleep(max(0.0, (later - now()).total_seconds()) + 6)  # t1 is due, and a pass (POLL 5 s) went by
            assert posted(mastodon) == ["v1"], "nothing that had not started goes out during the pause"
            assert states(tmp_path) == {
                ("v1", "mastodon"): "published",
                ("v2", "mastodon"): "pending",
                ("t1", "mastodon"): "pending",
            }
            mastodon.processing_polls = 0
            assert campaign(tmp_path, "resume").returncode == 0
            assert wait_for(lambda: len(posted(mastodon)) == 3, timeout=60)
        finally:
            stop(process)
    assert sorted(posted(mastodon)) == ["t1", "v1", "v2"]
    assert len(mastodon.uploads) == 2


def test_a_video_that_takes_longer_than_the_connect_timeout_to_send_uploads_to_a_slow_instance(tmp_path: Path) -> None:
    # 30 MB at 2 MB/s: 15 s of sending. The connect timeout (5 s) used to bound the whole body's send.
    with FakeMastodon() as mastodon:
        mastodon.upload_rate = 2_000_000
        write_campaign(tmp_path, mastodon, {"v1": now() - timedelta(minutes=1)}, {})
        pad_video(tmp_path / "media" / "v1.mp4", 30_000_000)
        result = campaign(tmp_path, "run", "--once", MASTODON_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    assert states(tmp_path) == {("v1", "mastodon"): "published"}
    assert posted(mastodon) == ["v1"]
    [upload] = mastodon.uploads.values()
    assert len(upload.data) == 30_000_000


def test_rehearse_ends_after_the_video_send_with_every_post_in_its_summary(tmp_path: Path) -> None:
    with FakeMastodon() as mastodon:
        write_campaign(tmp_path, mastodon, {"v1": soon(3600)}, {"t1": soon(3601), "t2": soon(7200)})
        result = campaign(tmp_path, "rehearse", MASTODON_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    assert "rehearsal: 3 published in" in result.stderr
    assert [line.split()[-2] for line in result.stdout.splitlines()] == ["v1", "t1", "t2"]
    assert mastodon.requests == [], "a rehearsal sends nothing"


def test_an_upload_workers_setting_that_is_no_number_is_said_in_a_line(tmp_path: Path) -> None:
    with FakeMastodon() as mastodon:
        write_campaign(tmp_path, mastodon, {}, {"t1": soon(3600)})
        result = campaign(tmp_path, "run", "--once", MASTODON_TOKEN=TOKEN, CAMPAIGN_UPLOAD_WORKERS="two")
    assert result.returncode == 1
    assert "CAMPAIGN_UPLOAD_WORKERS='two' is not a whole number" in result.stderr
    assert "Traceback" not in result.stderr
