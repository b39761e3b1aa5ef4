"""YouTube through the real `campaign` processes: validate's rules for a YouTube post, and a daemon killed
after YouTube has the (private) video but before it went public: one video, made public by the next run,
never during a pause, and no token in the ledger, the logs or `status`."""

from __future__ import annotations

import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.publish.store.schema import media_uploads
from tests.fakes.youtube_server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeYouTube
from tests.integration.daemon_helpers import at, campaign, daemon, ledger, now, states, stop, wait_for
from tests.videos import make_video, write_vtt


def write_campaign(root: Path, api: str, front: str = "title: Tip 1 van Team Kim\n") -> None:
    (root / "posts").mkdir(parents=True)
    (root / "channels.yml").write_text(
        f"channels:\n  youtube: {{type: youtube, client_id: '{CLIENT_ID}', client_secret: '${{YOUTUBE_CLIENT_SECRET}}',"
        f" refresh_token: '${{YOUTUBE_REFRESH_TOKEN}}', api: '{api}', accounts: '{api}'}}\n",
        encoding="utf-8",
    )
    (root / "posts" / "_defaults.yml").write_text("campaign: Test\ntimezone: Europe/Amsterdam\n", encoding="utf-8")
    (root / "posts" / "tip1.md").write_text(
        f"---\npublish_at: {at(now() - timedelta(minutes=1))}\nchannels: [youtube]\n{front}media:\n"
        "  - path: media/tip1.mp4\n    alt: Kim legt uit waar je terecht kunt.\n"
        "    captions: {nl: tip1.nl.vtt, en: tip1.en.vtt}\n---\nTip 1: praat erover.\n",
        encoding="utf-8",
    )
    make_video(root / "media" / "tip1.mp4", seconds=2.0)
    for lang in ("nl", "en"):
        write_vtt(root / "media" / f"tip1.{lang}.vtt", ("00:00:00.000", "00:00:01.800", f"Praat erover ({lang})."))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    result = campaign(tmp_path, "db", "upgrade", db=url)
    assert result.returncode == 0, result.stderr
    return url


def kept(root: Path, db: str | None = None) -> list[str]:
    book = ledger(root, db)
    try:
        with book.tx() as conn:
            return [row.remote_id for row in conn.execute(select(media_uploads.c.remote_id))]
    finally:
        book.close()


def test_a_daemon_killed_after_the_video_exists_but_before_it_is_public_makes_that_one_public_next_time(
    tmp_path: Path, db: str | None
) -> None:
    with FakeYouTube(processing_polls=1_000_000) as youtube:
        write_campaign(tmp_path, youtube.url)
        first = daemon(tmp_path, db=db, YOUTUBE_CLIENT_SECRET=CLIENT_SECRET, YOUTUBE_REFRESH_TOKEN=REFRESH_TOKEN)
        try:
            # Uploaded (private), its id in the ledger, and being processed: not public yet.
            assert wait_for(
                lambda: len(youtube.videos) == 1 and any(v.startswith("video:") for v in kept(tmp_path, db))
            )
        finally:
            first.send_signal(signal.SIGKILL)
            logs = first.communicate(timeout=15)
        [video] = youtube.videos.values()
        assert video["status"]["privacyStatus"] == "private"
        youtube.finish_processing()

        # A pause came meanwhile: the next run settles the send but makes nothing public.
        paused = campaign(tmp_path, "pause", "--reason", "nieuws vraagt om stilte", db=db)
        assert paused.returncode == 0, paused.stderr
        result = campaign(
            tmp_path, "run", "--once", db=db, YOUTUBE_CLIENT_SECRET=CLIENT_SECRET, YOUTUBE_REFRESH_TOKEN=REFRESH_TOKEN
        )
        assert result.returncode in (0, 1), result.stderr
        assert video["status"]["privacyStatus"] == "private"
        assert [what for _, what in youtube.events] == ["insert"]

        resumed = campaign(tmp_path, "resume", "--reason", "rustig", db=db)
        assert resumed.returncode == 0, resumed.stderr
        result = campaign(
            tmp_path, "run", "--once", db=db, YOUTUBE_CLIENT_SECRET=CLIENT_SECRET, YOUTUBE_REFRESH_TOKEN=REFRESH_TOKEN
        )
        assert result.returncode == 0, result.stderr
        assert states(tmp_path, db) == {("tip1", "youtube"): "published"}
        assert len(youtube.videos) == 1 and len(youtube.sessions) == 1  # the same video, never uploaded again
        assert [what for _, what in youtube.events] == ["insert", "caption:nl", "caption:en", "public"]
        status = campaign(
            tmp_path, "status", db=db, YOUTUBE_CLIENT_SECRET=CLIENT_SECRET, YOUTUBE_REFRESH_TOKEN=REFRESH_TOKEN
        )
    assert kept(tmp_path, db) == []
    database = (tmp_path / "campaign.db").read_bytes() if db is None else b""
    for secret in (REFRESH_TOKEN, CLIENT_SECRET, *youtube.tokens):
        for text in (*logs, result.stdout, result.stderr, status.stdout, status.stderr):
            assert secret not in text
        assert secret.encode() not in database


def validate(root: Path) -> subprocess.CompletedProcess[str]:
    return campaign(root, "validate")


def test_validate_asks_a_youtube_post_for_a_title_within_youtubes_rules(tmp_path: Path) -> None:
    cases = {
        "missing": "",
        "long": "title: " + "t" * 101 + "\n",
        "brackets": "title: 'Tip <1>'\n",
    }
    for name, front in cases.items():
        root = tmp_path / name
        write_campaign(root, "http://127.0.0.1:9", front)
        result = validate(root)
        assert result.returncode != 0, name
        output = result.stdout + result.stderr
        assert "tip1.md" in output and "title" in output, output
    fine = tmp_path / "fine"
    write_campaign(fine, "http://127.0.0.1:9")
    result = validate(fine)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_asks_a_youtube_post_for_exactly_one_video(tmp_path: Path) -> None:
    write_campaign(tmp_path, "http://127.0.0.1:9")
    post = tmp_path / "posts" / "tip1.md"
    text = post.read_text(encoding="utf-8")
    post.write_text(text[: text.index("media:")] + "---\nTip 1: praat erover.\n", encoding="utf-8")
    result = validate(tmp_path)
    assert result.returncode != 0
    assert "exactly one video" in result.stdout + result.stderr


def test_a_pause_that_comes_while_the_video_uploads_keeps_it_private_until_the_pause_is_lifted(tmp_path: Path) -> None:
    with FakeYouTube(processing_polls=1_000_000) as youtube:
        write_campaign(tmp_path, youtube.url)
        running = daemon(tmp_path, YOUTUBE_CLIENT_SECRET=CLIENT_SECRET, YOUTUBE_REFRESH_TOKEN=REFRESH_TOKEN)
        try:
            assert wait_for(lambda: len(youtube.videos) == 1)  # the send began before the pause
            paused = campaign(tmp_path, "pause", "--reason", "nieuws vraagt om stilte")
            assert paused.returncode == 0, paused.stderr
            youtube.finish_processing()
            assert wait_for(lambda: states(tmp_path)[("tip1", "youtube")] in ("retry", "pending"), timeout=60)
            [video] = youtube.videos.values()
            assert video["status"]["privacyStatus"] == "private"
            assert "public" not in [what for _, what in youtube.events]

            resumed = campaign(tmp_path, "resume", "--reason", "rustig")
            assert resumed.returncode == 0, resumed.stderr
            assert wait_for(lambda: states(tmp_path) == {("tip1", "youtube"): "published"}, timeout=90)
        finally:
            stop(running)
    assert len(youtube.videos) == 1 and len(youtube.sessions) == 1
    assert video["status"]["privacyStatus"] == "public"
    assert [what for _, what in youtube.events][-1] == "public"
