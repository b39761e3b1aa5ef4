"""Threads through `campaign` as a user runs it, against the fake Threads: validate counts emoji as Threads
does; a daemon killed between making a container and publishing it publishes that container next time (one
post); a long story goes out as a thread of replies; a post restricted as spam fails once and is not retried;
`channels refresh` writes the new token to the secrets file; the token appears nowhere."""

from __future__ import annotations

import json
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.publish.store.schema import media_uploads
from tests.fakes.images import photo
from tests.fakes.threads_server import TOKEN, USER_ID, FakeThreads
from tests.integration.daemon_helpers import at, campaign, daemon, ledger, now, states, stop, wait_for

ENV = {"THREADS_TOKEN": TOKEN}
STORY = "\n\n".join(
    f"Deel {i}. Ik was twaalf toen het begon, en niemand zag het. Pas jaren later durfde ik erover te praten "
    "met iemand die echt luisterde. Dat veranderde alles voor mij, en daarom vertel ik het nu aan jou. Als jij "
    "iets ziet of hoort: bel Veilig Thuis, gratis en anoniem, dag en nacht. Je hoeft het niet zeker te weten."
    for i in range(1, 4)
)


def write_campaign(
    root: Path, server: FakeThreads, text: str, *, defaults: str = "", media_url: bool = True, front: str = ""
) -> None:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(
        (f"media_url: '{server.url}/media/'\n" if media_url else "")
        + f"channels:\n  threads: {{type: threads, user_id: '{USER_ID}', token: '${{THREADS_TOKEN}}',"
        f" api: '{server.url}/v1.0'}}\n",
        encoding="utf-8",
    )
    (root / "posts" / "_defaults.yml").write_text(
        f"campaign: Test\ntimezone: Europe/Amsterdam\nchannels: [threads]\n{defaults}", encoding="utf-8"
    )
    due = at(now() - timedelta(minutes=1))
    (root / "posts" / "tip1.md").write_text(f"---\npublish_at: {due}\n{front}---\n{text}\n", encoding="utf-8")


def kept(root: Path, db: str | None = None) -> list[str]:
    made = ledger(root, db)
    try:
        with made.tx() as conn:
            return [row.remote_id for row in conn.execute(select(media_uploads.c.remote_id))]
    finally:
        made.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    result = campaign(tmp_path, "db", "upgrade", db=url)
    assert result.returncode == 0, result.stderr
    return url


def test_emoji_count_as_their_utf8_bytes_in_validate_one_over_is_an_error_one_under_goes(tmp_path: Path) -> None:
    over, under = tmp_path / "over", tmp_path / "under"
    with FakeThreads() as server:
        # 120 hearts are 120 characters to most networks, 480 to Threads (4 UTF-8 bytes each): with 24 more
        # characters that is 504, over 500; with 16 more, 496, under.
        write_campaign(over, server, "💙" * 120 + "Bel 0800-2000 nu, gratis")
        checked = campaign(over, "validate")
        assert checked.returncode == 1, checked.stdout + checked.stderr
        assert "tip1.md" in checked.stdout + checked.stderr and "504" in checked.stdout + checked.stderr

        write_campaign(under, server, "💙" * 120 + "Bel 0800-2000 nu")
        checked = campaign(under, "validate")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        run = campaign(under, "run", "--once", env=ENV)
        assert run.returncode == 0, run.stderr
        assert states(under) == {("tip1", "threads"): "published"}
    assert [p["text"] for p in server.posts] == ["💙" * 120 + "Bel 0800-2000 nu"]


def test_a_daemon_killed_between_making_the_container_and_publishing_it_publishes_that_one_next_time(
    tmp_path: Path, db: str | None
) -> None:
    with FakeThreads(processing_polls=1_000_000) as server:
        write_campaign(tmp_path, server, "Praat erover. Kindermishandeling stopt pas als we kijken.")
        first = daemon(tmp_path, db=db, **ENV)
        try:
            # The container is made and kept in the ledger, and being processed: nothing is out.
            assert wait_for(
                lambda: len(server.created()) == 1 and any(k.startswith("container:") for k in kept(tmp_path, db))
            )
        finally:
            first.send_signal(signal.SIGKILL)
            logs = first.communicate(timeout=15)
        assert server.posts == []
        server.finish_processing()

        result = campaign(tmp_path, "run", "--once", db=db, env=ENV)
        assert result.returncode == 0, result.stderr
        assert states(tmp_path, db) == {("tip1", "threads"): "published"}
        [container] = server.created()  # the same container, never made again
        assert [p["container"] for p in server.posts] == [container["id"]]

        again = campaign(tmp_path, "run", "--once", db=db, env=ENV)
        assert again.returncode == 0, again.stderr
        assert len(server.posts) == 1
    for text in (*logs, result.stdout, result.stderr):
        assert TOKEN not in text


def test_a_daemon_killed_after_threads_published_settles_to_that_post(tmp_path: Path) -> None:
    with FakeThreads() as server:
        write_campaign(tmp_path, server, "Praat erover. Kindermishandeling stopt pas als we kijken.")
        server.drop_after_processing("POST", f"/v1.0/{USER_ID}/threads_publish")  # published, the answer lost
        for _ in range(3):  # in doubt, then settled from the kept container
            result = campaign(tmp_path, "run", "--once", env=ENV)
            assert result.returncode in (0, 1), result.stderr
            if states(tmp_path) == {("tip1", "threads"): "published"}:
                break
        assert states(tmp_path) == {("tip1", "threads"): "published"}
        [published] = server.posts
        status = json.loads(campaign(tmp_path, "status", "--format", "json", env=ENV).stdout)
    [delivery] = status["deliveries"]
    assert delivery["url"] == published["permalink"] and len(server.created()) == 1


def test_a_long_story_goes_out_as_a_thread_each_part_replying_to_the_one_before(tmp_path: Path) -> None:
    with FakeThreads() as server:
        write_campaign(tmp_path, server, STORY, defaults="thread: true\n")
        preview = campaign(tmp_path, "preview", "--format", "json", env=ENV)
        [send] = json.loads(preview.stdout)["sends"]
        parts = list(send["parts"])
        assert len(parts) == 3
        run = campaign(tmp_path, "run", "--once", env=ENV)
        assert run.returncode == 0, run.stderr
        assert states(tmp_path) == {("tip1", "threads"): "published"}
    assert [p["text"] for p in server.posts] == parts
    assert [p["reply_to_id"] for p in server.posts] == [None, *(p["id"] for p in server.posts[:-1])]
    replies = [r.value("fields") for r in server.requests if r.path.endswith("/threads_publishing_limit")]
    assert replies == ["quota_usage,config", *["reply_quota_usage,reply_config"] * 2]


def test_a_post_restricted_as_spam_fails_with_an_alert_and_is_never_retried(tmp_path: Path) -> None:
    with FakeThreads() as server:
        server.spam = True
        write_campaign(tmp_path, server, "Praat erover.")
        for _ in range(2):
            result = campaign(tmp_path, "run", "--once", env=ENV)
            assert result.returncode in (0, 1), result.stderr
        assert states(tmp_path) == {("tip1", "threads"): "failed"}
        tries = [r for r in server.requests if r.path.endswith("/threads_publish")]
    assert len(tries) == 1 and server.posts == []
    made = ledger(tmp_path)
    try:
        [alert] = [a for a in made.alerts.latest() if a.kind == "failed"]
    finally:
        made.close()
    assert "spam" in alert.message and "not sent again" in alert.message


def test_channels_refresh_writes_the_new_token_to_the_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "THREADS_TOKEN").write_text(TOKEN + "\n", encoding="utf-8")
    (secrets / "THREADS_TOKEN").chmod(0o600)
    root = tmp_path / "campaign"
    with FakeThreads() as server:
        write_campaign(root, server, "Praat erover.")
        run = campaign(root, "channels", "refresh", "threads", env={"CAMPAIGN_SECRETS_DIR": str(secrets)})
        assert run.returncode == 0, run.stdout + run.stderr
        [new] = server.refreshed
    assert (secrets / "THREADS_TOKEN").read_text(encoding="utf-8") == new + "\n"
    for secret in (TOKEN, new):
        assert secret not in run.stdout + run.stderr


def test_a_token_younger_than_a_day_is_not_refreshed_and_the_file_is_unchanged(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "THREADS_TOKEN").write_text(TOKEN + "\n", encoding="utf-8")
    root = tmp_path / "campaign"
    with FakeThreads() as server:
        server.token_age = 3600.0
        write_campaign(root, server, "Praat erover.")
        run = campaign(root, "channels", "refresh", "threads", env={"CAMPAIGN_SECRETS_DIR": str(secrets)})
    assert run.returncode == 1 and "FAILED  threads" in run.stdout
    assert (secrets / "THREADS_TOKEN").read_text(encoding="utf-8") == TOKEN + "\n"
    assert TOKEN not in run.stdout + run.stderr


def test_the_token_is_never_in_logs_errors_status_history_or_the_database(tmp_path: Path) -> None:
    sentinel = "THREADS-SENTINEL-9f8e7d6c5b4a"
    with FakeThreads(token=sentinel) as server:
        write_campaign(tmp_path, server, "Praat erover. Bel 0800-2000.")
        published = campaign(tmp_path, "run", "--once", env={"THREADS_TOKEN": sentinel})
        assert states(tmp_path) == {("tip1", "threads"): "published"}
        server.token = "another-token"  # revoked: Threads' error echoes what it was given
        (tmp_path / "posts" / "tip2.md").write_text(
            f"---\npublish_at: {at(now() - timedelta(minutes=1))}\n---\nTwee.\n", encoding="utf-8"
        )
        refused = campaign(tmp_path, "run", "--once", env={"THREADS_TOKEN": sentinel})
        assert states(tmp_path)[("tip2", "threads")] == "failed"
        checked = campaign(tmp_path, "channels", "check", env={"THREADS_TOKEN": sentinel})
        status = campaign(tmp_path, "status", env={"THREADS_TOKEN": sentinel})
        history = campaign(tmp_path, "history", "tip2", env={"THREADS_TOKEN": sentinel})
    assert "token" in checked.stdout + checked.stderr
    for result in (published, refused, checked, status, history):
        assert sentinel not in result.stdout + result.stderr
    assert sentinel.encode() not in (tmp_path / "campaign.db").read_bytes()


def test_channels_check_says_who_posts_and_warns_of_a_token_ending_within_14_days(tmp_path: Path) -> None:
    with FakeThreads() as server:
        server.expires_at = int((now() + timedelta(days=5, hours=1)).timestamp())
        write_campaign(tmp_path, server, "Praat erover.")
        checked = campaign(tmp_path, "channels", "check", env=ENV)
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert "@weektegenkindermishandeling" in checked.stdout and "in 5 days" in checked.stdout
    assert "campaign channels refresh" in checked.stdout and TOKEN not in checked.stdout + checked.stderr


def test_the_daemon_refreshes_a_threads_token_before_the_14_day_alert_and_writes_the_secrets_file(
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "THREADS_TOKEN").write_text(TOKEN + "\n", encoding="utf-8")
    root = tmp_path / "campaign"
    with FakeThreads() as server:
        server.expires_at = int((now() + timedelta(days=10)).timestamp())
        write_campaign(root, server, "Praat erover.")
        (root / "posts" / "tip1.md").unlink()
        process = daemon(root, CAMPAIGN_SECRETS_DIR=str(secrets))
        try:
            assert wait_for(lambda: bool(server.refreshed), 60)
            assert wait_for(lambda: (secrets / "THREADS_TOKEN").read_text(encoding="utf-8") == server.token + "\n", 30)
        finally:
            err = stop(process)
    assert TOKEN not in err and server.refreshed[0] not in err


WITH_IMAGE = "media:\n  - path: media/tip1.jpg\n    alt: Een kind zit op de trap en kijkt naar buiten.\n"


def test_validate_asks_for_the_campaigns_media_url_for_a_threads_post_with_an_image(tmp_path: Path) -> None:
    with FakeThreads() as server:
        write_campaign(tmp_path, server, "Praat erover.", media_url=False, front=WITH_IMAGE)
        (tmp_path / "media").mkdir()
        photo(tmp_path / "media" / "tip1.jpg")
        checked = campaign(tmp_path, "validate")
        assert checked.returncode == 1, checked.stdout + checked.stderr
        [line] = [line for line in checked.stdout.splitlines() if "media_url" in line]
        assert line.startswith("posts/tip1.md:") and "set media_url in channels.yml" in line

        write_campaign(tmp_path, server, "Praat erover.", media_url=False)  # text only: Threads fetches nothing
        checked = campaign(tmp_path, "validate")
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_image_goes_out_from_the_campaigns_media_url_as_campaign_media_export_wrote_it(tmp_path: Path) -> None:
    with FakeThreads() as server:
        write_campaign(tmp_path, server, "Praat erover.", front=WITH_IMAGE)
        (tmp_path / "media").mkdir()
        photo(tmp_path / "media" / "tip1.jpg", (2400, 1600))
        exported = campaign(tmp_path, "media", "export", str(tmp_path / "site"))
        assert exported.returncode == 0, exported.stdout + exported.stderr
        [file] = (tmp_path / "site").iterdir()
        server.media[file.name] = file.read_bytes()  # deployed at media_url
        run = campaign(tmp_path, "run", "--once", env=ENV)
        assert run.returncode == 0, run.stderr
        assert states(tmp_path) == {("tip1", "threads"): "published"}
        url = f"{server.url}/media/{file.name}"
    [container] = server.created()
    assert container["media_type"] == "IMAGE" and container["image_url"] == url


def test_the_daemon_refreshes_a_token_threads_does_not_date_once_its_secrets_file_is_46_days_old(
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    secret = secrets / "THREADS_TOKEN"
    secret.write_text(TOKEN + "\n", encoding="utf-8")
    written = (now() - timedelta(days=46)).timestamp()
    os.utime(secret, (written, written))
    root = tmp_path / "campaign"
    with FakeThreads() as server:  # debug_token says no end: the account is not one of the app's testers
        write_campaign(root, server, "Praat erover.")
        (root / "posts" / "tip1.md").unlink()
        process = daemon(root, CAMPAIGN_SECRETS_DIR=str(secrets))
        try:
            assert wait_for(lambda: bool(server.refreshed), 60)
            assert wait_for(lambda: secret.read_text(encoding="utf-8") == server.token + "\n", 30)
        finally:
            err = stop(process)
    assert TOKEN not in err and server.refreshed[0] not in err
