"""Instagram as the Instagram API with Instagram Login documents it, against the fake Instagram over real HTTP:
a post is a container that Instagram fetches from the campaign's public address (a real local web server
serving what `campaign media export` wrote), polled until FINISHED, kept in the ledger (a real SQLite file or
PostgreSQL) before it is published, then published with its creation_id: one post, whatever is interrupted."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from scheduler.channels.instagram.channel import MEDIA, InstagramChannel
from scheduler.channels.meta.api import PublishingLimit
from scheduler.channels.meta.served import NotServed
from scheduler.errors import InDoubt, LedgerError, Rejected, RetryLater
from scheduler.media import public
from scheduler.media.renditions import rendition
from scheduler.posts import MediaItem, RenderedPost
from scheduler.publish.ledger import Ledger
from scheduler.publish.store.schema import media_uploads
from tests.builders import run_campaign
from tests.fakes import images
from tests.fakes.instagram_server import TOKEN, USER_ID, VERSION, FakeInstagram, MediaHost, meta_error
from tests.integration.daemon_helpers import at, campaign, daemon, ledger, now, states, stop, wait_for
from tests.videos import make_video

TEXT = "Tip 1: praat erover. Kindermishandeling stopt pas als we kijken. #KindermishandelingStopt"
ALT = "Kim van Team Kim legt uit waar je terecht kunt."
ENV = {"INSTAGRAM_TOKEN": TOKEN}


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    made.upgrade()
    yield made
    made.close()


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[tuple[FakeInstagram, MediaHost]]:
    with FakeInstagram() as instagram, MediaHost(tmp_path / "public") as host:
        yield instagram, host


def channel_for(
    instagram: FakeInstagram, host: MediaHost, book: Ledger | None = None, **settings: Any
) -> InstagramChannel:
    channel = InstagramChannel(
        "instagram",
        {"user_id": USER_ID, "token": TOKEN, "api": instagram.url, "media_url": host.media_url, **settings},
    )
    channel.uploads = book.uploads if book is not None else None
    return channel


def photo(path: Path, size: tuple[int, int] = (400, 300)) -> MediaItem:
    return MediaItem(images.photo(path, size), ALT)


def reel(path: Path) -> MediaItem:
    return MediaItem(make_video(path, seconds=1.0), "", "video", no_captions="geen spraak")


def exported(host: MediaHost, *items: MediaItem) -> None:
    """What `campaign media export` does, into the folder the host serves."""
    public.export([public.of_item(item, MEDIA) for item in items], host.folder)


def post(*items: MediaItem, text: str = TEXT) -> RenderedPost:
    return RenderedPost(post="tips/tip1", channel="instagram", text=text, media=items)


def steps(instagram: FakeInstagram) -> list[str]:
    """The requests that make or publish something, and the limit reads, in order."""
    names = {"media": "create", "media_publish": "publish", "content_publishing_limit": "limit"}
    return [
        names[r.path.rsplit("/", 1)[1]]
        for r in instagram.requests
        if r.path.rsplit("/", 1)[1] in names and (r.method == "POST" or r.path.endswith("limit"))
    ]


def kept_rows(book: Ledger) -> list[str]:
    with book.tx() as conn:
        return [row.remote_id for row in conn.execute(select(media_uploads.c.remote_id))]


# -- one send, through the adapter --------------------------------------------------------------------


def test_an_image_goes_out_as_its_rendition_fetched_from_its_content_addressed_url(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    item = photo(tmp_path / "Kim-de-Vries-thuis.jpg")
    exported(host, item)
    channel = channel_for(instagram, host, book)
    receipt = channel.publish(post(item), "send-1")
    channel.close()
    [container] = instagram.containers.values()
    made = rendition(item.path, MEDIA)
    name = public.of_file(made.path).name
    assert container.fields["image_url"] == host.media_url + name and "Kim" not in name
    assert container.fields["alt_text"] == ALT and container.fields["caption"] == TEXT
    assert container.fetched == [made.read_bytes()] and instagram.image_traces == []  # no EXIF, no GPS
    assert steps(instagram) == ["limit", "create", "publish"]  # the limit read before anything is made
    [published] = instagram.posts
    assert receipt.remote_id == published.id and receipt.url == published.permalink
    assert kept_rows(book) == [f"published:{published.id}"]  # settles an answer lost on the way to the ledger


def test_a_container_still_processing_is_polled_then_published(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    instagram.processing_polls = 2
    item = photo(tmp_path / "tip1.jpg")
    exported(host, item)
    channel = channel_for(instagram, host, book)
    channel.publish(post(item), "send-1")
    channel.close()
    [container] = instagram.containers.values()
    looks = [r for r in instagram.requests if r.path == f"/{VERSION}/{container.id}"]
    assert [r.value("fields") for r in looks] == ["status_code,status"] * 3  # IN_PROGRESS twice, then FINISHED
    assert container.status == "PUBLISHED" and len(instagram.posts) == 1


def test_a_container_that_expired_is_made_again_and_published_once(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    instagram.processing_polls = 1_000_000
    item = photo(tmp_path / "tip1.jpg")
    exported(host, item)
    channel = channel_for(instagram, host, book, media_timeout=1)
    with pytest.raises(RetryLater) as later:
        channel.publish(post(item), "send-1")
    assert "still preparing" in later.value.reason
    [first] = instagram.containers
    assert kept_rows(book) == [f"container:{first}"]  # kept before anything could be published
    instagram.expire()
    instagram.processing_polls = 0
    receipt = channel.publish(post(item), "send-1")
    channel.close()
    assert [c.status for c in instagram.containers.values()] == ["EXPIRED", "PUBLISHED"]
    assert [p.container for p in instagram.posts] == [list(instagram.containers)[1]]
    assert receipt.remote_id == instagram.posts[0].id


def test_a_carousel_of_three_is_three_items_then_one_post(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    items = (photo(tmp_path / "a.jpg"), photo(tmp_path / "b.jpg", (300, 300)), reel(tmp_path / "c.mp4"))
    exported(host, *items)
    channel = channel_for(instagram, host, book)
    channel.publish(post(*items), "send-1")
    channel.close()
    made = list(instagram.containers.values())
    children, parent = made[:3], made[3]
    assert [c.fields.get("is_carousel_item") for c in children] == ["true"] * 3
    assert [c.fields.get("media_type", "IMAGE") for c in children] == ["IMAGE", "IMAGE", "VIDEO"]
    assert children[2].fetched == [items[2].path.read_bytes()]  # a video goes as its file
    assert children[0].fields["alt_text"] == ALT and "caption" not in children[0].fields
    assert parent.fields["media_type"] == "CAROUSEL" and parent.fields["caption"] == TEXT
    assert parent.fields["children"] == ",".join(c.id for c in children)
    [published] = instagram.posts
    assert published.container == parent.id


def test_a_video_goes_out_as_a_reel(tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]) -> None:
    instagram, host = scene
    item = reel(tmp_path / "reel.mp4")
    exported(host, item)
    channel = channel_for(instagram, host, book)
    channel.publish(post(item), "send-1")
    channel.close()
    [container] = instagram.containers.values()
    assert container.fields["media_type"] == "REELS" and container.fields["caption"] == TEXT
    assert container.fields["video_url"] == host.media_url + public.of_file(item.path).name
    assert container.fetched == [item.path.read_bytes()] and len(instagram.posts) == 1


def test_a_url_that_serves_other_bytes_holds_the_post_and_makes_nothing(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    item = photo(tmp_path / "tip1.jpg")
    exported(host, item)
    name = public.of_item(item, MEDIA).name
    host.replace[name] = b"an older photo under the same name"
    channel = channel_for(instagram, host, book)
    with pytest.raises(NotServed) as held:
        channel.publish(post(item), "send-1")
    (host.folder / name).unlink()
    del host.replace[name]
    with pytest.raises(NotServed) as missing:
        channel.publish(post(item), "send-1")
    channel.close()
    for reason in (held.value.reason, missing.value.reason):
        assert host.media_url + name in reason and "campaign media export" in reason
    assert "other bytes" in held.value.reason and "HTTP 404" in missing.value.reason
    assert instagram.containers == {} and instagram.posts == [] and kept_rows(book) == []


def test_a_full_publishing_window_waits_and_makes_nothing(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    instagram.quota_used = 100
    item = photo(tmp_path / "tip1.jpg")
    exported(host, item)
    channel = channel_for(instagram, host, book)
    with pytest.raises(PublishingLimit) as waits:
        channel.publish(post(item), "send-1")
    assert "100 of the 100" in waits.value.reason and waits.value.after is not None and waits.value.after >= 60
    assert instagram.containers == {}

    # The limit said at media_publish (9/2207042) waits too; the container stays kept for the next attempt.
    instagram.quota_used = 0
    instagram.fail("POST", f"/{VERSION}/{USER_ID}/media_publish", 400, meta_error(9, "Limit", subcode=2207042))
    with pytest.raises(PublishingLimit):
        channel.publish(post(item), "send-1")
    [container] = instagram.containers
    assert kept_rows(book) == [f"container:{container}"]
    channel.publish(post(item), "send-1")
    channel.close()
    assert len(instagram.containers) == 1 and len(instagram.posts) == 1


def test_a_container_the_ledger_cannot_keep_is_not_published(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    class Unkeeping:
        def recall(self, channel: str, key: str, digest: str) -> tuple[str, datetime] | None:
            return None

        def keep(self, channel: str, key: str, digest: str, remote_id: str) -> None:
            raise LedgerError("database is locked")

        def forget(self, channel: str, key: str) -> None:
            pass

    instagram, host = scene
    item = photo(tmp_path / "tip1.jpg")
    exported(host, item)
    channel = channel_for(instagram, host)
    channel.uploads = Unkeeping()
    with pytest.raises(RetryLater) as later:
        channel.publish(post(item), "send-1")
    channel.close()
    assert "not published" in later.value.reason and instagram.posts == []
    assert "publish" not in steps(instagram)


def test_an_answer_lost_after_instagram_published_is_settled_from_the_kept_container(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    item = photo(tmp_path / "tip1.jpg")
    exported(host, item)
    channel = channel_for(instagram, host, book)
    instagram.drop_after_processing("POST", f"/{VERSION}/{USER_ID}/media_publish")
    since = datetime.now(UTC)
    with pytest.raises(InDoubt):
        channel.publish(post(item), "send-1")
    found = channel.lookup("send-1", post(item), since)
    again = channel.publish(post(item), "send-1")  # a retry after all: settled, not posted twice
    channel.close()
    [published] = instagram.posts
    assert found is not None and found.remote_id == published.id and again.remote_id == published.id
    assert steps(instagram).count("publish") == 1


def test_a_pause_before_publishing_keeps_the_container_unpublished(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    class Paused:
        def paused(self, channel: str) -> str | None:
            return "paused: nieuws vraagt om stilte"

    instagram, host = scene
    item = photo(tmp_path / "tip1.jpg")
    exported(host, item)
    channel = channel_for(instagram, host, book)
    channel.pauses = Paused()
    with pytest.raises(RetryLater) as later:
        channel.publish(post(item), "send-1")
    channel.close()
    assert "pause is lifted" in later.value.reason and instagram.posts == []


def test_a_post_without_media_is_refused_before_anything_is_asked(
    book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    channel = channel_for(instagram, host, book)
    with pytest.raises(Rejected):
        channel.publish(post(), "send-1")
    channel.close()
    assert instagram.requests == []


# -- the campaign as a user runs it --------------------------------------------------------------------


def write_instagram_campaign(
    root: Path, instagram: FakeInstagram, host: MediaHost, *, media: str = "media/tip1.jpg", text: str = TEXT
) -> None:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(
        f"media_url: {host.media_url}\nchannels:\n  instagram: {{type: instagram, user_id: '{USER_ID}',"
        f" token: '${{INSTAGRAM_TOKEN}}', api: '{instagram.url}'}}\n",
        encoding="utf-8",
    )
    (root / "posts" / "_defaults.yml").write_text("campaign: Test\ntimezone: Europe/Amsterdam\n", encoding="utf-8")
    media_lines = f"media:\n  - path: {media}\n    alt: {ALT}\n" if media else ""
    (root / "posts" / "tip1.md").write_text(
        f"---\npublish_at: {at(now() - timedelta(minutes=1))}\nchannels: [instagram]\n{media_lines}---\n{text}\n",
        encoding="utf-8",
    )
    (root / "media").mkdir(exist_ok=True)
    images.photo(root / "media" / "tip1.jpg")


def export_media(root: Path, host: MediaHost) -> None:
    result = run_campaign(root, "media", "export", str(host.folder))
    assert result.returncode == 0, result.stderr
    assert "1 file(s) written" in result.stdout


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


def test_media_export_writes_each_rendition_under_its_hash_and_run_publishes_it(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    root = tmp_path / "campagne"
    write_instagram_campaign(root, instagram, host)
    checked = run_campaign(root, "validate")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    export_media(root, host)
    [name] = [p.name for p in host.folder.iterdir()]
    assert name == public.of_item(MediaItem(root / "media" / "tip1.jpg", ALT), MEDIA).name
    assert images.traces((host.folder / name).read_bytes()) == []
    again = run_campaign(root, "media", "export", str(host.folder))
    assert "0 file(s) written, 1 already there" in again.stdout
    result = campaign(root, "run", "--once", env=ENV)
    assert result.returncode == 0, result.stderr
    assert states(root) == {("tip1", "instagram"): "published"}
    assert len(instagram.posts) == 1 and instagram.posts[0].caption == TEXT


def test_a_daemon_killed_between_the_container_and_publishing_publishes_that_one_container_next_time(
    tmp_path: Path, db: str | None, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    instagram.processing_polls = 1_000_000
    root = tmp_path / "campagne"
    write_instagram_campaign(root, instagram, host)
    if db is not None:
        upgraded = campaign(root, "db", "upgrade", db=db)
        assert upgraded.returncode == 0, upgraded.stderr
    export_media(root, host)
    first = daemon(root, db=db, **ENV)
    try:
        # The container made and kept in the ledger, Instagram still preparing it: nothing is out.
        assert wait_for(
            lambda: bool(instagram.top_containers()) and any(v.startswith("container:") for v in kept(root, db)),
            timeout=60,
        )
    finally:
        first.send_signal(signal.SIGKILL)
        logs = first.communicate(timeout=15)
    assert instagram.posts == []
    instagram.finish_processing()
    result = campaign(root, "run", "--once", db=db, env=ENV)
    assert result.returncode == 0, result.stderr
    assert states(root, db) == {("tip1", "instagram"): "published"}
    assert len(instagram.top_containers()) == 1 and len(instagram.posts) == 1  # that container, one post
    assert instagram.posts[0].container == instagram.top_containers()[0].id
    for text in (*logs, result.stdout, result.stderr):
        assert TOKEN not in text


def test_restricted_as_spam_fails_with_a_clear_sentence_and_is_not_sent_again(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    root = tmp_path / "campagne"
    write_instagram_campaign(root, instagram, host)
    export_media(root, host)
    instagram.fail("POST", f"/{VERSION}/{USER_ID}/media_publish", 400, meta_error(4, "Spam", subcode=2207051), times=5)
    for _ in range(2):
        result = campaign(root, "run", "--once", env=ENV)
        assert result.returncode in (0, 1), result.stderr
    assert states(root) == {("tip1", "instagram"): "failed"}
    assert steps(instagram).count("publish") == 1 and instagram.posts == []
    shown = campaign(root, "status").stdout
    assert "restricted the publishing" in shown and "not sent again automatically" in shown


def test_a_full_publishing_window_leaves_the_send_waiting_not_failed(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    instagram.quota_used = 100
    root = tmp_path / "campagne"
    write_instagram_campaign(root, instagram, host)
    export_media(root, host)
    result = campaign(root, "run", "--once", env=ENV)
    assert result.returncode in (0, 1), result.stderr
    assert states(root) == {("tip1", "instagram"): "retry"}
    assert instagram.containers == {}


def test_media_not_deployed_holds_the_send_with_the_url_and_the_step(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    root = tmp_path / "campagne"
    write_instagram_campaign(root, instagram, host)  # not exported
    result = campaign(root, "run", "--once", env=ENV)
    assert result.returncode in (0, 1), result.stderr
    assert states(root) == {("tip1", "instagram"): "retry"}
    [told] = [line for line in result.stderr.splitlines() if "ALERT waiting" in line]  # at once, not when missed
    assert "tip1" in told and host.media_url in told and "campaign media export" in told
    shown = campaign(root, "status").stdout
    assert host.media_url in shown and "campaign media export" in shown
    assert instagram.containers == {}


@pytest.mark.parametrize(
    ("media", "text", "wanted"),
    [
        ("", TEXT, "instagram: Instagram takes no post without an image or a video"),
        (
            "media/tip1.jpg",
            " ".join(f"#Tag{n}" for n in range(31)),
            "instagram: 31 hashtags, Instagram takes at most 30",
        ),
        ("media/tip1.jpg", "a" * 2201, "instagram: text is 2201 characters, over the limit of 2200"),
    ],
    ids=["without-media", "31-hashtags", "2201-characters"],
)
def test_validate_names_the_file_of_a_post_instagram_would_refuse(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost], media: str, text: str, wanted: str
) -> None:
    instagram, host = scene
    write_instagram_campaign(tmp_path, instagram, host, media=media, text=text)
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 1
    assert any(line.startswith("posts/tip1.md:") and wanted in line for line in result.stdout.splitlines()), (
        result.stdout
    )


def test_validate_asks_for_media_url_naming_channels_yml(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    write_instagram_campaign(tmp_path, instagram, host)
    channels = tmp_path / "channels.yml"
    channels.write_text("\n".join(channels.read_text(encoding="utf-8").splitlines()[1:]) + "\n", encoding="utf-8")
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if "media_url" in line]
    assert line.startswith("posts/tip1.md:") and "set media_url in channels.yml" in line


# -- the token --------------------------------------------------------------------------------------------


def token_scene(root: Path, instagram: FakeInstagram, host: MediaHost) -> tuple[dict[str, str], Path]:
    write_instagram_campaign(root, instagram, host)
    folder = root.parent / "secrets"
    folder.mkdir()
    (folder / "INSTAGRAM_TOKEN").write_text(TOKEN + "\n", encoding="utf-8")
    return {"CAMPAIGN_SECRETS_DIR": str(folder)}, folder / "INSTAGRAM_TOKEN"


def test_refresh_writes_the_new_token_to_the_secrets_file(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    env, secret = token_scene(tmp_path / "campagne", instagram, host)
    instagram.token_too_young = True
    young = campaign(tmp_path / "campagne", "channels", "refresh", "instagram", env=env)
    assert young.returncode == 1 and "at least 24 hours old" in young.stdout
    assert secret.read_text(encoding="utf-8").strip() == TOKEN
    instagram.token_too_young = False
    run = campaign(tmp_path / "campagne", "channels", "refresh", "instagram", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    [fresh] = instagram.refreshed
    assert secret.read_text(encoding="utf-8").strip() == fresh
    for text in (young.stdout, young.stderr, run.stdout, run.stderr):
        assert TOKEN not in text and fresh not in text
    checked = campaign(tmp_path / "campagne", "channels", "check", env=env)
    assert "@weektegenkindermishandeling" in checked.stdout


def test_the_token_never_shows_in_logs_errors_status_history_or_the_ledger(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    root = tmp_path / "campagne"
    write_instagram_campaign(root, instagram, host)
    export_media(root, host)
    instagram.tokens.clear()  # refused, and echoed back in Instagram's message by the fake
    result = campaign(root, "run", "--once", CAMPAIGN_LOG_LEVEL="DEBUG", env=ENV)
    assert states(root) == {("tip1", "instagram"): "failed"}
    said = [result.stdout, result.stderr]
    for command in (("status",), ("history",), ("history", "--format", "json"), ("channels", "check")):
        shown = campaign(root, *command, env=ENV)
        said += [shown.stdout, shown.stderr]
    assert any("token rejected" in text for text in said)
    for text in said:
        assert TOKEN not in text
    with sqlite3.connect(root / "campaign.db") as conn:
        dump = "\n".join(conn.iterdump())
    assert "token rejected" in dump and TOKEN not in dump


def test_a_dry_run_like_instagram_keeps_instagrams_rules_but_needs_no_media_url(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    (tmp_path / "channels.yml").write_text("channels:\n  proef: {type: dryrun, like: instagram}\n", encoding="utf-8")
    (tmp_path / "posts" / "_defaults.yml").write_text("campaign: Test\n", encoding="utf-8")
    (tmp_path / "media").mkdir()
    images.photo(tmp_path / "media" / "tip1.jpg")
    with_media = f"media:\n  - path: media/tip1.jpg\n    alt: {ALT}\n"
    for name, hour, media in (("tip1", "09", with_media), ("tip2", "10", "")):
        (tmp_path / "posts" / f"{name}.md").write_text(
            f"---\npublish_at: 2027-11-15 {hour}:00\nchannels: [proef]\n{media}---\n{name}: {TEXT}\n",
            encoding="utf-8",
        )
    result = run_campaign(tmp_path, "validate")
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert len(errors) == 1 and errors[0].startswith("posts/tip2.md:"), result.stdout
    assert "takes no post without an image or a video" in errors[0]


def test_a_container_instagram_calls_not_ready_at_publishing_is_published_by_the_next_attempt(
    tmp_path: Path, book: Ledger, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    item = photo(tmp_path / "tip1.jpg")
    exported(host, item)
    channel = channel_for(instagram, host, book)
    not_ready = meta_error(9007, "Media ID is not available", subcode=2207027)
    instagram.fail("POST", f"/{VERSION}/{USER_ID}/media_publish", 400, not_ready)
    with pytest.raises(RetryLater):
        channel.publish(post(item), "send-1")
    channel.publish(post(item), "send-1")
    channel.close()
    assert len(instagram.containers) == 1 and len(instagram.posts) == 1


def written_days_ago(secret: Path, days: int) -> None:
    when = (datetime.now(UTC) - timedelta(days=days)).timestamp()
    os.utime(secret, (when, when))


def test_check_dates_a_token_instagram_does_not_date_by_when_its_secrets_file_was_written(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost]
) -> None:
    instagram, host = scene
    env, secret = token_scene(tmp_path / "campagne", instagram, host)
    written_days_ago(secret, 5)
    fresh = campaign(tmp_path / "campagne", "channels", "check", env=env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "in 54 days" in fresh.stdout or "in 55 days" in fresh.stdout, fresh.stdout
    written_days_ago(secret, 50)
    old = campaign(tmp_path / "campagne", "channels", "check", env=env)
    assert old.returncode == 3, old.stdout + old.stderr  # a warning: it ends within 14 days at the latest
    assert "INSTAGRAM_TOKEN was written on" in old.stdout and TOKEN not in old.stdout + old.stderr


@pytest.mark.parametrize(("days", "refreshed"), [(46, True), (30, False)])
def test_the_daemon_refreshes_an_instagram_token_once_its_secrets_file_is_45_days_old(
    tmp_path: Path, scene: tuple[FakeInstagram, MediaHost], days: int, refreshed: bool
) -> None:
    instagram, host = scene
    root = tmp_path / "campagne"
    env, secret = token_scene(root, instagram, host)
    for draft in (root / "posts").rglob("*.md"):
        draft.unlink()
    written_days_ago(secret, days)
    process = daemon(root, **env)
    try:
        if refreshed:
            assert wait_for(lambda: bool(instagram.refreshed), 60)
            assert wait_for(lambda: secret.read_text(encoding="utf-8").strip() == instagram.refreshed[0], 30)
        else:  # the daily look has asked Instagram who the token is, and left it
            assert wait_for(lambda: any(r.path.endswith("/me") for r in instagram.requests), 60)
    finally:
        err = stop(process)
    assert bool(instagram.refreshed) == refreshed and TOKEN not in err
    if not refreshed:
        assert secret.read_text(encoding="utf-8").strip() == TOKEN
