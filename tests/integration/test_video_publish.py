"""A video post published by the daemon as each network documents it, against local servers: Mastodon's
asynchronous upload (202, polled until processed) and Telegram's sendVideo; the upload kept in the
ledger so that a restart between the upload and the status reuses it, and one status goes out."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from scheduler.publish.store.schema import media_uploads
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.telegram_server import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_server import FakeTelegram
from tests.integration.daemon_helpers import add_users, at, campaign, daemon, env_for, ledger, now, states, wait_for
from tests.videos import make_video, write_vtt

ALT = "Kim van Team Kim legt uit waar je terecht kunt."


def write_video_campaign(root: Path, mastodon: FakeMastodon, telegram: FakeTelegram | None = None) -> None:
    channels = f"channels:\n  mastodon: {{type: mastodon, instance: '{mastodon.url}', token: '${{MASTODON_TOKEN}}'}}\n"
    names = "[mastodon]"
    if telegram is not None:
        channels += f"  telegram: {{type: telegram, token: '${{TELEGRAM_TOKEN}}', chat_id: '@campagne', api: '{telegram.url}'}}\n"
        names = "[mastodon, telegram]"
    (root / "posts").mkdir(parents=True)
    (root / "channels.yml").write_text(channels, encoding="utf-8")
    (root / "posts" / "_defaults.yml").write_text("campaign: Test\ntimezone: Europe/Amsterdam\n", encoding="utf-8")
    (root / "posts" / "tip1.md").write_text(
        f"---\npublish_at: {at(now() - timedelta(minutes=1))}\nchannels: {names}\nmedia:\n"
        f"  - path: media/tip1.mp4\n    alt: {ALT}\n    captions: {{nl: tip1.nl.vtt}}\n---\nTip 1: praat erover.\n",
        encoding="utf-8",
    )
    make_video(root / "media" / "tip1.mp4", seconds=2.0)
    write_vtt(root / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.800", "Praat erover."))


def requests_to(server: FakeMastodon, method: str, path: str) -> int:
    return sum(1 for r in server.requests if r.method == method and r.path.startswith(path))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    result = campaign(tmp_path, "db", "upgrade", db=url)
    assert result.returncode == 0, result.stderr
    return url


def kept_uploads(root: Path, db: str | None = None) -> int:
    book = ledger(root, db)
    try:
        with book.tx() as conn:
            return int(conn.execute(select(func.count()).select_from(media_uploads)).scalar_one())
    finally:
        book.close()


def test_a_video_goes_to_mastodon_after_several_polls_and_to_telegram_as_a_video(tmp_path: Path) -> None:
    with FakeMastodon(processing_polls=3) as mastodon, FakeTelegram() as telegram:
        write_video_campaign(tmp_path, mastodon, telegram)
        result = campaign(tmp_path, "run", "--once", MASTODON_TOKEN=TOKEN, TELEGRAM_TOKEN=TELEGRAM_TOKEN)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path) == {("tip1", "mastodon"): "published", ("tip1", "telegram"): "published"}

        video = (tmp_path / "media" / "tip1.mp4").read_bytes()
        [status] = mastodon.statuses
        [attached] = status["media_attachments"]
        assert attached["type"] == "video" and attached["description"] == ALT
        assert mastodon.uploads[attached["id"]].data == video
        assert mastodon.uploads[attached["id"]].content_type == "video/mp4"
        assert requests_to(mastodon, "POST", "/api/v2/media") == 1
        assert requests_to(mastodon, "GET", "/api/v1/media/") == 4  # 206, 206, 206, then 200

        [message] = telegram.messages
        assert message["upload"].data == video and message["shown"].startswith("Tip 1: praat erover.")
        assert message["video"]["duration"] == 2 and message["supports_streaming"] == "true"
    assert kept_uploads(tmp_path) == 0  # attached: nothing left to reuse


def test_a_video_the_instance_cannot_process_fails_with_an_alert_and_is_never_posted(tmp_path: Path) -> None:
    with FakeMastodon(processing_polls=1) as mastodon:
        mastodon.failed_processing = True
        write_video_campaign(tmp_path, mastodon)
        for _ in range(2):  # the second run sends nothing again
            result = campaign(tmp_path, "run", "--once", MASTODON_TOKEN=TOKEN)
            assert result.returncode in (0, 1), result.stderr
        assert states(tmp_path) == {("tip1", "mastodon"): "failed"}
        assert mastodon.statuses == []
        assert requests_to(mastodon, "POST", "/api/v2/media") == 1
    book = ledger(tmp_path)
    try:
        [alert] = [a for a in book.alerts.latest() if a.kind == "failed"]
    finally:
        book.close()
    assert "tip1.mp4" in alert.message and "could not be processed" in alert.message
    assert kept_uploads(tmp_path) == 0


@pytest.mark.parametrize("expired", [False, True], ids=["reused", "expired-so-redone"])
def test_a_daemon_killed_between_the_upload_and_the_status_sends_one_status(
    tmp_path: Path, expired: bool, db: str | None
) -> None:
    with FakeMastodon(processing_polls=1_000_000) as mastodon:
        write_video_campaign(tmp_path, mastodon)
        first = daemon(tmp_path, db=db, MASTODON_TOKEN=TOKEN)
        try:
            # Uploaded, kept in the ledger, and being processed: the status has not been asked for.
            assert wait_for(
                lambda: requests_to(mastodon, "GET", "/api/v1/media/") >= 2 and kept_uploads(tmp_path, db) == 1
            )
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=15)
        assert mastodon.statuses == []
        mastodon.finish_processing()
        if expired:  # the instance removed the unattached upload meanwhile: it is uploaded again
            mastodon.media.clear()
        result = campaign(tmp_path, "run", "--once", db=db, MASTODON_TOKEN=TOKEN)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path, db) == {("tip1", "mastodon"): "published"}
        [status] = mastodon.statuses
        assert len(status["media_attachments"]) == 1
        assert requests_to(mastodon, "POST", "/api/v2/media") == (2 if expired else 1)
        assert requests_to(mastodon, "POST", "/api/v1/statuses") == 1
    assert kept_uploads(tmp_path, db) == 0


def test_the_dashboards_post_page_shows_the_videos_first_frame_length_and_captions(tmp_path: Path) -> None:
    from tests.integration.test_web_door import Client, Site, serving

    root = tmp_path / "campaign"
    with FakeMastodon() as mastodon:
        write_video_campaign(root, mastodon)
    env = env_for(root, CAMPAIGN_SESSION_SECRET="d" * 48, CAMPAIGN_USERS_FILE=str(tmp_path / "users"))
    add_users(env)
    with serving(Site(root, env)) as served:
        vera = Client(served.url)
        vera.log_in("vera")
        page = vera.get("/posts/tip1").text
    figure = page.split('<img src="data:image/png;base64,', 1)[1].split("</figure>", 1)[0]
    assert f'alt="{ALT}"' in figure and "0:02" in figure and "nl" in figure
