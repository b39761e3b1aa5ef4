"""The LinkedIn Page channel against a local LinkedIn REST API (tests/fakes/linkedin_server.py): what
arrives, what each refusal means to a person, and exactly-once without an idempotency key."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from PIL import Image

from scheduler.channels.linkedin import little
from scheduler.channels.linkedin.channel import LinkedInChannel
from scheduler.channels.linkedin.rest import until_reset
from scheduler.channels.registry import adapter_class
from scheduler.content.networks import limits_for
from scheduler.errors import ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import MediaItem, RenderedPost
from tests.builders import post as post_file
from tests.builders import run_campaign, write_campaign
from tests.fakes.images import photo, traces
from tests.fakes.linkedin_server import ORGANIZATION, TOKEN, VERSION, FakeLinkedIn, as_linkedin_keeps, error
from tests.fakes.server import Reply, Request
from tests.integration.daemon_helpers import campaign, daemon, ledger, now, states, write

TEXT = "Praat erover (ook anoniem): bel 0800-2000 of kijk op https://example.org/hulp_nu #geweld #KindVeilig"
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
ALT = "Twee volwassen handen houden een kinderhand vast."
SENTINEL = "SENTINEL-LINKEDIN-TOKEN-5e0c"


def settings_for(server: FakeLinkedIn, **overrides: Any) -> dict[str, Any]:
    return {"author": ORGANIZATION, "token": server.token, "version": VERSION, "api": server.url, **overrides}


@pytest.fixture
def server() -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn() as fake:
        yield fake


@pytest.fixture
def channel(server: FakeLinkedIn) -> Iterator[LinkedInChannel]:
    adapter = LinkedInChannel("linkedin", settings_for(server))
    yield adapter
    adapter.close()


def post(text: str = TEXT, media: tuple[MediaItem, ...] = ()) -> RenderedPost:
    return RenderedPost(post="2026/week-47", channel="linkedin", text=text, media=media)


def image(tmp_path: Path, name: str = "handen.png", data: bytes | None = None, alt: str = ALT) -> MediaItem:
    """A photo made by Pillow, with GPS EXIF and XMP (or the file `data` as it is)."""
    path = tmp_path / name
    if data is None:
        photo(path)
    else:
        path.write_bytes(data)
    return MediaItem(path=path, alt=alt)


def calls(server: FakeLinkedIn, method: str, path: str) -> list[Request]:
    return [r for r in server.requests if (r.method, r.path) == (method, path)]


def sent_body(server: FakeLinkedIn) -> dict[str, Any]:
    [request] = calls(server, "POST", "/rest/posts")
    body: dict[str, Any] = json.loads(request.body)
    return body


# -- the settings ------------------------------------------------------------------------------

LINKEDIN_CHANNELS = (
    "channels:\n"
    '  linkedin: {type: linkedin, author: "urn:li:organization:123", token: "${LINKEDIN_TOKEN}", version: "202611"}\n'
)


def test_validate_takes_the_organization_urn_in_author_for_what_it_is_not_for_a_secret(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post_file("Hallo (allemaal).", publish_at="2027-11-15 09:00", channels="[linkedin]")},
        channels=LINKEDIN_CHANNELS,
    )
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "secret" not in result.stdout + result.stderr


def test_a_token_written_out_is_still_refused_and_not_echoed(tmp_path: Path) -> None:
    channels = LINKEDIN_CHANNELS.replace("${LINKEDIN_TOKEN}", "AQXwritten0ut").replace("}\n", ", authorization: x}\n")
    write_campaign(
        tmp_path, {"a.md": post_file(publish_at="2027-11-15 09:00", channels="[linkedin]")}, channels=channels
    )
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 1
    assert "linkedin.token looks like a secret written out" in result.stdout
    assert "linkedin.authorization looks like a secret written out" in result.stdout
    assert "linkedin.author " not in result.stdout
    assert "AQXwritten0ut" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("author", "123"),
        ("author", "urn:li:person:abc"),
        ("version", "2026-11"),
        ("version", "202613"),
        ("version", None),
    ],
)
def test_a_wrong_author_or_version_is_a_config_error_naming_the_setting(setting: str, value: Any) -> None:
    settings = {"author": ORGANIZATION, "token": TOKEN, "version": VERSION, setting: value}
    with pytest.raises(ConfigError) as raised:
        LinkedInChannel("linkedin", settings)
    assert f"`{setting}`" in str(raised.value)
    assert raised.value.key == setting


def test_the_registry_finds_the_adapter_and_a_version_written_as_a_number_is_taken() -> None:
    assert adapter_class("linkedin") is LinkedInChannel
    assert LinkedInChannel("li", {"author": ORGANIZATION, "token": TOKEN, "version": 202611}).version == "202611"


# -- the text ----------------------------------------------------------------------------------


def test_every_reserved_character_arrives_whole_and_hashtags_as_linkedin_writes_them(
    channel: LinkedInChannel, server: FakeLinkedIn
) -> None:
    text = "Bel (gratis) 0800: [24/7] {altijd} <anoniem> a_b *niet* ~ | \\ @iemand C# #geweld #Kind2026_x einde."
    receipt = channel.publish(post(text), "k")
    commentary = sent_body(server)["commentary"]
    assert "{hashtag|\\#|geweld}" in commentary and "{hashtag|\\#|Kind2026}\\_x" in commentary
    assert "\\(gratis\\)" in commentary and "C\\#" in commentary and "\\@iemand" in commentary
    [stored] = server.posts
    assert stored["commentary"] == commentary  # LinkedIn cut nothing
    assert little.plain(stored["commentary"]) == text
    assert receipt.remote_id == stored["id"]
    assert receipt.url == f"https://www.linkedin.com/feed/update/{stored['id']}/"


def test_an_unescaped_parenthesis_would_cut_the_post_which_is_why_it_is_escaped(server: FakeLinkedIn) -> None:
    # What the fake does to a raw text, as LinkedIn does (its 201 says nothing about it).
    assert as_linkedin_keeps("Bel (gratis) 0800") == "Bel "
    assert as_linkedin_keeps(little.escape("Bel (gratis) 0800")) == little.escape("Bel (gratis) 0800")


@pytest.mark.parametrize("char", sorted(little.RESERVED))
def test_each_reserved_character_is_escaped_and_read_back_as_it_was(char: str) -> None:
    text = f"voor{char}na"
    assert little.escape(text) == f"voor\\{char}na"
    assert little.plain(little.escape(text)) == text
    assert as_linkedin_keeps(little.escape(text)) == little.escape(text)


def test_the_length_is_counted_on_the_escaped_text_in_validate_and_before_sending(
    channel: LinkedInChannel, server: FakeLinkedIn, tmp_path: Path
) -> None:
    text = "(x) " * 700 + "a" * 150  # 2,950 characters, 4,350 once escaped
    rule = limits_for("linkedin", {}).length
    assert rule.limit == 3000
    assert rule.problems(text) == ["text is 4350 characters, escaped for LinkedIn, over the limit of 3000"]
    with pytest.raises(Rejected):
        channel.publish(post(text), "k")
    assert server.requests == []
    write_campaign(
        tmp_path,
        {"a.md": post_file(text, publish_at="2027-11-15 09:00", channels="[linkedin]")},
        channels=LINKEDIN_CHANNELS,
    )
    result = run_campaign(tmp_path, "validate")
    assert result.returncode == 1
    assert "escaped for LinkedIn, over the limit of 3000" in result.stdout


# -- images ------------------------------------------------------------------------------------


def test_an_image_is_uploaded_without_the_api_headers_waited_for_and_posted_with_its_alt_text(
    channel: LinkedInChannel, server: FakeLinkedIn, tmp_path: Path
) -> None:
    server.processing_polls = 2
    channel.publish(post(media=(image(tmp_path),)), "k")
    [init] = calls(server, "POST", "/rest/images")
    assert init.query["action"] == ["initializeUpload"]
    assert json.loads(init.body) == {"initializeUploadRequest": {"owner": ORGANIZATION}}
    [upload] = server.uploads
    with Image.open(io.BytesIO(upload.body)) as sent:  # the rendition: the photo's pixels, not its GPS
        assert (sent.format, sent.size) == ("PNG", (400, 300))
    assert traces(upload.body) == [] and server.image_traces == []
    assert not {"authorization", "linkedin-version", "x-restli-protocol-version"} & set(upload.headers)
    [urn] = server.image_assets
    looks = [r for r in server.requests if r.method == "GET" and r.path.startswith("/rest/images/")]
    assert len(looks) == 3  # PROCESSING twice, then AVAILABLE
    assert sent_body(server)["content"] == {"media": {"id": urn, "altText": ALT}}
    assert server.posts[0]["content"]["media"]["id"] == urn


def test_every_api_call_carries_the_token_the_pinned_version_and_restli_2(
    channel: LinkedInChannel, server: FakeLinkedIn, tmp_path: Path
) -> None:
    channel.publish(post(media=(image(tmp_path),)), "k")
    for request in server.requests:
        if request.path.startswith("/rest/"):
            assert request.headers["authorization"] == f"Bearer {TOKEN}"
            assert request.headers["linkedin-version"] == VERSION
            assert request.headers["x-restli-protocol-version"] == "2.0.0"
    body = sent_body(server)
    assert body["author"] == ORGANIZATION and body["visibility"] == "PUBLIC"
    assert body["distribution"]["feedDistribution"] == "MAIN_FEED" and body["lifecycleState"] == "PUBLISHED"


def test_two_images_go_as_a_multi_image_post_each_with_its_alt_text(
    channel: LinkedInChannel, server: FakeLinkedIn, tmp_path: Path
) -> None:
    first, second = image(tmp_path, "a.png"), image(tmp_path, "b.jpg", alt="Een tekening van een huis.")
    channel.publish(post(media=(first, second)), "k")
    images = sent_body(server)["content"]["multiImage"]["images"]
    assert [i["altText"] for i in images] == [ALT, "Een tekening van een huis."]
    assert [i["id"] for i in images] == list(server.image_assets)


def test_an_image_linkedin_takes_no_kind_of_is_rejected_before_any_upload(
    channel: LinkedInChannel, server: FakeLinkedIn, tmp_path: Path
) -> None:
    with pytest.raises(Rejected) as raised:
        channel.publish(post(media=(image(tmp_path, "foto.webp", IMAGE),)), "k")
    assert "JPEG, PNG or GIF" in raised.value.reason
    assert server.requests == []


# -- each refusal in a person's words ----------------------------------------------------------


def test_a_retired_version_426_is_rejected_naming_the_version_setting(server: FakeLinkedIn) -> None:
    adapter = LinkedInChannel("linkedin", settings_for(server, version="202401"))
    with pytest.raises(Rejected) as raised:
        adapter.publish(post(), "k")
    reason = raised.value.reason
    assert "202401" in reason and "`version:`" in reason and "channels.yml" in reason
    assert "HTTP 426" in reason
    assert server.posts == []


def test_an_expired_or_revoked_token_401_names_the_setting_never_the_token(server: FakeLinkedIn) -> None:
    adapter = LinkedInChannel("linkedin", settings_for(server, token=SENTINEL))  # the fake echoes it
    with pytest.raises(Rejected) as raised:
        adapter.publish(post(), "k")
    reason = raised.value.reason
    assert "expired" in reason and "revoked" in reason and "`token:`" in reason and "channel linkedin" in reason
    assert SENTINEL not in reason and SENTINEL not in repr(raised.value)
    assert server.posts == []


def test_a_member_no_longer_page_admin_403_says_so_and_names_the_scope(
    channel: LinkedInChannel, server: FakeLinkedIn
) -> None:
    server.admin = False
    with pytest.raises(Rejected) as raised:
        channel.publish(post(), "k")
    assert "administrator" in raised.value.reason and "w_organization_social" in raised.value.reason
    with pytest.raises(Rejected) as checked:
        channel.check()
    assert "is not an administrator of urn:li:organization:2414183" in checked.value.reason


def test_a_daily_limit_429_waits_until_midnight_utc_not_seconds(channel: LinkedInChannel, server: FakeLinkedIn) -> None:
    server.fail("POST", "/rest/posts", 429, error(429, "TOO_MANY_REQUESTS", "APPLICATION DAY limit reached").body)
    before = datetime.now(UTC)
    with pytest.raises(RetryLater) as raised:
        channel.publish(post(), "k")
    after = datetime.now(UTC)
    midnight = (before + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert raised.value.after is not None
    assert (midnight - after).total_seconds() - 1 <= raised.value.after <= (midnight - before).total_seconds() + 1
    assert "daily limit" in raised.value.reason and "midnight UTC" in raised.value.reason
    assert server.posts == []


def test_until_reset_is_the_next_utc_midnight_or_linkedins_own_wait() -> None:
    answer = requests.Response()
    answer.status_code = 429
    late = datetime(2026, 12, 7, 23, 59, 30, tzinfo=UTC)
    assert until_reset(answer, late) == 30
    answer.headers["Retry-After"] = "120"
    assert until_reset(answer, late) == 120


def test_a_server_error_is_retry_later_and_nothing_is_posted(channel: LinkedInChannel, server: FakeLinkedIn) -> None:
    server.fail("POST", "/rest/posts", 503, error(503, "SERVICE_UNAVAILABLE", "try again", 0).body)
    with pytest.raises(RetryLater):
        channel.publish(post(), "k")
    assert server.posts == []
    channel.publish(post(), "k")
    assert len(server.posts) == 1


# -- exactly once ------------------------------------------------------------------------------


def test_a_lost_answer_is_in_doubt_and_lookup_finds_the_one_post_by_its_text(
    channel: LinkedInChannel, server: FakeLinkedIn
) -> None:
    server.add_post(little.escape("Een ouder bericht."))
    since = datetime.now(UTC)
    server.drop_after_processing("POST", "/rest/posts")
    with pytest.raises(InDoubt):
        channel.publish(post(), "k")
    found = channel.lookup("k", post(), since)
    assert found.remote_id == server.posts[-1]["id"]
    assert len(server.posts) == 2 and len(calls(server, "POST", "/rest/posts")) == 1
    [finder] = calls(server, "GET", "/rest/posts")
    assert finder.query["q"] == ["author"] and finder.query["author"] == [ORGANIZATION]


def test_lookup_reads_back_by_urn_when_linkedin_gave_one(channel: LinkedInChannel, server: FakeLinkedIn) -> None:
    receipt = channel.publish(post(), "k")
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert channel.lookup("k", post(), since) == receipt
    assert calls(server, "GET", "/rest/posts") == []  # no search: the URN was read back
    [read] = [r for r in server.requests if r.method == "GET"]
    assert unquote(read.path) == f"/rest/posts/{receipt.remote_id}"


def test_lookup_of_a_post_never_sent_or_older_than_the_first_attempt_is_in_doubt(
    channel: LinkedInChannel, server: FakeLinkedIn
) -> None:
    two_hours_ago = int((datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000)
    server.add_post(little.escape(TEXT), created_ms=two_hours_ago)  # the same text, weeks-old campaign
    with pytest.raises(InDoubt):
        channel.lookup("k", post(), datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(InDoubt):
        channel.lookup("k", post("Nooit verstuurd."), datetime.now(UTC) - timedelta(days=1))


def test_a_duplicate_422_whose_urn_reads_back_as_this_post_is_published_once(
    channel: LinkedInChannel, server: FakeLinkedIn
) -> None:
    urn = server.add_post(little.escape(TEXT))  # an earlier attempt whose answer was lost
    receipt = channel.publish(post(), "k")
    assert receipt.remote_id == urn
    assert len(server.posts) == 1
    assert len([r for r in server.requests if r.method == "GET" and r.path.startswith("/rest/posts/")]) == 1


def test_a_duplicate_422_naming_a_urn_that_does_not_exist_is_in_doubt(
    channel: LinkedInChannel, server: FakeLinkedIn
) -> None:
    urn = server.add_post(little.escape(TEXT))
    server.delete(urn)  # LinkedIn still calls the text a duplicate of it
    with pytest.raises(InDoubt) as raised:
        channel.publish(post(), "k")
    assert urn in raised.value.reason and "look at the Page" in raised.value.reason
    assert server.posts == []


# -- channels check ----------------------------------------------------------------------------


def months_ago(months: int) -> str:
    today = datetime.now(UTC)
    index = today.year * 12 + today.month - 1 - months
    return f"{index // 12}{index % 12 + 1:02d}"


def test_check_names_the_page_role_and_says_nothing_of_a_current_version(
    channel: LinkedInChannel, server: FakeLinkedIn
) -> None:
    adapter = LinkedInChannel("linkedin", settings_for(server, version=months_ago(1)))
    verdict = adapter.check()
    assert f"posts as {ORGANIZATION} (administrator)" in verdict
    assert "WARNING" not in verdict


def test_check_warns_when_the_pinned_version_is_eleven_months_old(server: FakeLinkedIn) -> None:
    old = months_ago(11)
    verdict = LinkedInChannel("linkedin", settings_for(server, version=old)).check()
    assert f"WARNING: API version {old} is 11 months old" in verdict
    assert "`version:`" in verdict and "about a year" in verdict
    assert "WARNING" not in LinkedInChannel("linkedin", settings_for(server, version=months_ago(10))).check()


def test_check_of_a_revoked_token_fails_naming_the_setting(server: FakeLinkedIn) -> None:
    with pytest.raises(Rejected) as raised:
        LinkedInChannel("linkedin", settings_for(server, token=SENTINEL)).check()
    assert "`token:`" in raised.value.reason and SENTINEL not in raised.value.reason


# -- through the daemon ------------------------------------------------------------------------


def linkedin_campaign(root: Path, server: FakeLinkedIn, text: str = TEXT) -> None:
    channels = (
        "channels:\n"
        f"  linkedin: {{type: linkedin, author: '{ORGANIZATION}', token: '${{LINKEDIN_TOKEN}}',"
        f" version: '{VERSION}', api: '{server.url}'}}\n"
    )
    write(root, {"p": (now() - timedelta(minutes=1), text)}, channels=channels, default_channels="[linkedin]")


def test_a_dropped_answer_after_linkedin_committed_is_settled_by_lookup_with_one_post(tmp_path: Path) -> None:
    with FakeLinkedIn() as server:
        server.drop_after_processing("POST", "/rest/posts")
        linkedin_campaign(tmp_path, server)
        run = campaign(tmp_path, "run", "--once", env={"LINKEDIN_TOKEN": TOKEN})
        assert run.returncode == 0, run.stderr
        assert len(server.posts) == 1
        assert len(calls(server, "POST", "/rest/posts")) == 1
        [created] = server.posts
    assert states(tmp_path)[("p", "linkedin")] == "published"
    [delivery] = json.loads(campaign(tmp_path, "status", "--format", "json").stdout)["deliveries"]
    assert delivery["url"] == f"https://www.linkedin.com/feed/update/{created['id']}/"
    assert "found on the network" in campaign(tmp_path, "history", "p").stdout


def test_channels_check_says_who_it_posts_as_and_warns_of_an_old_version(tmp_path: Path) -> None:
    with FakeLinkedIn() as server:
        linkedin_campaign(tmp_path, server)
        current = campaign(tmp_path, "channels", "check", env={"LINKEDIN_TOKEN": TOKEN})
        old = months_ago(12)
        channels = (tmp_path / "channels.yml").read_text(encoding="utf-8").replace(VERSION, old)
        (tmp_path / "channels.yml").write_text(channels, encoding="utf-8")
        aging = campaign(tmp_path, "channels", "check", env={"LINKEDIN_TOKEN": TOKEN})
    assert current.returncode == 0, current.stdout + current.stderr
    assert "ok      linkedin: token accepted by 127.0.0.1:" in current.stdout
    assert f"posts as {ORGANIZATION} (administrator)" in current.stdout and "WARNING" not in current.stdout
    assert aging.returncode == 0
    assert f"WARNING: API version {old} is 12 months old" in aging.stdout


def test_a_revoked_token_fails_check_and_the_send_and_never_leaves_the_process(tmp_path: Path) -> None:
    with FakeLinkedIn(token="the-token-after-renewing") as server:
        linkedin_campaign(tmp_path, server)
        env = {"LINKEDIN_TOKEN": SENTINEL}
        check = campaign(tmp_path, "channels", "check", env=env)
        run = campaign(tmp_path, "run", "--once", "--log-level", "DEBUG", env=env)
        status = campaign(tmp_path, "status", "--format", "json")
        history = campaign(tmp_path, "history")
        assert server.posts == []
    assert check.returncode == 1 and "FAILED  linkedin:" in check.stdout and "`token:`" in check.stdout
    assert run.returncode == 0, run.stderr
    assert states(tmp_path)[("p", "linkedin")] == "failed"
    dump = "\n".join(sqlite3.connect(tmp_path / "campaign.db").iterdump())
    assert "HTTP 401" in dump
    for output in (check.stdout, check.stderr, run.stdout, run.stderr, status.stdout, history.stdout, dump):
        assert SENTINEL not in output


def test_a_retired_version_fails_the_daemons_send_at_once_with_an_alert_naming_the_setting(tmp_path: Path) -> None:
    with FakeLinkedIn(retired=frozenset({VERSION})) as server:
        linkedin_campaign(tmp_path, server)
        for _ in range(2):
            run = campaign(tmp_path, "run", "--once", env={"LINKEDIN_TOKEN": TOKEN})
            assert run.returncode == 0, run.stderr
        assert len(calls(server, "POST", "/rest/posts")) == 1  # refused once, never retried
        assert server.posts == []
    assert states(tmp_path)[("p", "linkedin")] == "failed"
    book = ledger(tmp_path)
    [alert] = book.alerts.latest()
    book.close()
    assert (alert.kind, alert.channel) == ("failed", "linkedin")
    assert f"LinkedIn no longer serves API version {VERSION}" in alert.message
    assert "`version:` setting in channels.yml" in alert.message


class KillingLinkedIn(FakeLinkedIn):
    """Kills the daemon once LinkedIn has committed a post, before it answers."""

    victim: int | None = None

    def handle(self, request: Request) -> Reply:
        if self.victim is None or (request.method, request.path) != ("POST", "/rest/posts"):
            return super().handle(request)
        reply = super().handle(request)
        os.kill(self.victim, signal.SIGKILL)
        self.victim = None
        time.sleep(0.5)
        return reply


def test_daemon_killed_after_linkedin_committed_is_settled_by_the_next_run_with_one_post(tmp_path: Path) -> None:
    with KillingLinkedIn() as server:
        linkedin_campaign(tmp_path, server)
        process = daemon(tmp_path, "--once", LINKEDIN_TOKEN=TOKEN)
        server.victim = process.pid
        process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert states(tmp_path)[("p", "linkedin")] == "sending"
        for _ in range(2):
            again = campaign(tmp_path, "run", "--once", env={"LINKEDIN_TOKEN": TOKEN})
            assert again.returncode == 0, again.stderr
        [created] = server.posts
        assert len(calls(server, "POST", "/rest/posts")) == 1
    assert states(tmp_path)[("p", "linkedin")] == "published"
    [delivery] = json.loads(campaign(tmp_path, "status", "--format", "json").stdout)["deliveries"]
    assert delivery["url"] == f"https://www.linkedin.com/feed/update/{created['id']}/"
