"""Every built-in adapter passes the shipped conformance suite (scheduler.testing.conformance)
against its fake network: the same suite a third party's adapter runs against its own server."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.channels.base import Channel
from scheduler.channels.bluesky import BlueskyChannel
from scheduler.channels.dryrun import DryRunChannel
from scheduler.channels.facebook import FacebookChannel
from scheduler.channels.linkedin.channel import LinkedInChannel
from scheduler.channels.mastodon import MastodonChannel
from scheduler.channels.telegram import TelegramChannel
from scheduler.channels.threads import ThreadsChannel
from scheduler.channels.webhook import WebhookChannel
from scheduler.channels.x import XChannel
from scheduler.testing.conformance import CannotStage, ChannelConformance, Scenario
from tests.fakes import bluesky_server
from tests.fakes.bluesky_server import FakePDS, xrpc_error
from tests.fakes.facebook_server import PAGE_ID, FakeGraph, buc_usage, graph_error
from tests.fakes.linkedin_server import ORGANIZATION, FakeLinkedIn, error
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.server import FakeServer
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.threads_server import USER_ID as THREADS_USER_ID
from tests.fakes.threads_server import FakeThreads, threads_error
from tests.fakes.webhook_server import FakeWebhook
from tests.fakes.x_server import ACCESS_TOKEN, ACCESS_TOKEN_SECRET, CONSUMER_KEY, CONSUMER_SECRET, FakeX

# Secrets unlike the fakes' defaults, so that a leak is a leak of these.
MASTODON_TOKEN = "conformance-mastodon-token-51c2"
BLUESKY_PASSWORD = "conformance-app-password-8d0e"
FACEBOOK_TOKEN = "conformance-page-token-3a7f"
LINKEDIN_TOKEN = "conformance-linkedin-token-e5c9"
THREADS_TOKEN = "conformance-threads-token-2d8b"
TELEGRAM_TOKEN = "424242:conformance-telegram-token-b9e1"
HOOK_SECRET = "conformance-hook-secret-6f04"


class DryRunScenario:
    """No network: nothing can refuse, throttle or lose an answer, so those switches say so."""

    adapter = DryRunChannel
    secrets: Mapping[str, str] = {}

    def __init__(self, outbox: Path, **settings: Any) -> None:
        self.outbox = outbox
        self.settings = {"outbox": str(outbox), **settings}

    def published(self) -> int:
        return len(self.outbox.read_text(encoding="utf-8").splitlines()) if self.outbox.exists() else 0

    def refuse_next(self, message: str) -> None:
        raise CannotStage("a dry run writes to a file: there is no network to refuse a post")

    def throttle_next(self, seconds: int) -> None:
        raise CannotStage("a dry run writes to a file: there is no network to throttle it")

    def lose_next_answer(self) -> None:
        raise CannotStage("a dry run writes to a file: there is no answer to lose")


class FakeServerScenario:
    """A network whose fake is a FakeServer (its `fail` and `drop_after_processing` knobs), published
    to with one POST to `path`."""

    adapter: type[Channel]
    settings: Mapping[str, Any]
    secrets: Mapping[str, str]

    def __init__(self, server: FakeServer, path: str) -> None:
        self.server, self.path = server, path

    def lose_next_answer(self) -> None:
        self.server.drop_after_processing("POST", self.path)


class MastodonScenario(FakeServerScenario):
    adapter = MastodonChannel

    def __init__(self, server: FakeMastodon) -> None:
        super().__init__(server, "/api/v1/statuses")
        self.fake = server
        self.settings = {"instance": server.url, "token": "${MASTODON_TOKEN}"}
        self.secrets = {"MASTODON_TOKEN": MASTODON_TOKEN}

    def published(self) -> int:
        return len(self.fake.statuses)

    def refuse_next(self, message: str) -> None:
        self.fake.fail("POST", self.path, 422, {"error": f"Validation failed: {message}"})

    def throttle_next(self, seconds: int) -> None:
        reset = (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        self.fake.fail("POST", self.path, 429, {"error": "Too many requests"}, headers)


class XScenario(FakeServerScenario):
    adapter = XChannel

    def __init__(self, server: FakeX) -> None:
        super().__init__(server, "/2/tweets")
        self.fake = server
        self.settings = {
            "api": server.url,
            "consumer_key": "${X_CONSUMER_KEY}",
            "consumer_secret": "${X_CONSUMER_SECRET}",
            "access_token": "${X_ACCESS_TOKEN}",
            "access_token_secret": "${X_ACCESS_TOKEN_SECRET}",
        }
        self.secrets = {
            "X_CONSUMER_KEY": CONSUMER_KEY,
            "X_CONSUMER_SECRET": CONSUMER_SECRET,
            "X_ACCESS_TOKEN": ACCESS_TOKEN,
            "X_ACCESS_TOKEN_SECRET": ACCESS_TOKEN_SECRET,
        }

    def published(self) -> int:
        return len(self.fake.posts)

    def refuse_next(self, message: str) -> None:
        body = {"title": "Forbidden", "detail": message, "type": "about:blank", "status": 403}
        self.fake.fail("POST", self.path, 403, body)

    def throttle_next(self, seconds: int) -> None:
        reset = int(datetime.now(UTC).timestamp()) + seconds
        headers = {"x-rate-limit-limit": "200", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
        body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
        self.fake.fail("POST", self.path, 429, body, headers)


class FacebookScenario(FakeServerScenario):
    adapter = FacebookChannel

    def __init__(self, server: FakeGraph) -> None:
        super().__init__(server, f"/v25.0/{PAGE_ID}/feed")
        self.fake = server
        self.settings = {"page_id": PAGE_ID, "graph": server.url, "token": "${FACEBOOK_PAGE_TOKEN}"}
        self.secrets = {"FACEBOOK_PAGE_TOKEN": FACEBOOK_TOKEN}

    def published(self) -> int:
        return len(self.fake.posts)

    def refuse_next(self, message: str) -> None:
        self.fake.fail("POST", self.path, 400, graph_error(100, f"Invalid parameter: {message}"))

    def throttle_next(self, seconds: int) -> None:
        # Graph names the wait in whole minutes, in X-Business-Use-Case-Usage.
        headers = {"X-Business-Use-Case-Usage": buc_usage(PAGE_ID, percent=100, minutes=seconds // 60)}
        self.fake.fail("POST", self.path, 400, graph_error(32, "Page request limit reached"), headers)


class LinkedInScenario(FakeServerScenario):
    adapter = LinkedInChannel

    def __init__(self, server: FakeLinkedIn) -> None:
        super().__init__(server, "/rest/posts")
        self.fake = server
        self.settings = {"author": ORGANIZATION, "token": "${LINKEDIN_TOKEN}", "version": "202611", "api": server.url}
        self.secrets = {"LINKEDIN_TOKEN": LINKEDIN_TOKEN}

    def published(self) -> int:
        return len(self.fake.posts)

    def refuse_next(self, message: str) -> None:
        self.fake.fail("POST", self.path, 422, error(422, "UNPROCESSABLE_ENTITY", message).body)

    def throttle_next(self, seconds: int) -> None:
        # A daily ceiling waits for midnight UTC; where LinkedIn names the wait (Retry-After), that wait.
        body = error(429, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION DAY limit is reached.").body
        self.fake.fail("POST", self.path, 429, body, {"Retry-After": str(seconds)})


class ThreadsScenario(FakeServerScenario):
    """Published in two requests: the container is made (where a post is refused), then threads_publish
    (where an answer can be lost)."""

    adapter = ThreadsChannel

    def __init__(self, server: FakeThreads) -> None:
        super().__init__(server, f"/v1.0/{THREADS_USER_ID}/threads_publish")
        self.fake = server
        self.settings = {"user_id": THREADS_USER_ID, "token": "${THREADS_TOKEN}", "api": server.url + "/v1.0"}
        self.secrets = {"THREADS_TOKEN": THREADS_TOKEN}

    def published(self) -> int:
        return len(self.fake.posts)

    def refuse_next(self, message: str) -> None:
        body = threads_error(100, f"Invalid parameter: {message}")
        self.fake.fail("POST", f"/v1.0/{THREADS_USER_ID}/threads", 400, body)

    def throttle_next(self, seconds: int) -> None:
        raise CannotStage(
            "Threads names no wait: its publishing limit is a moving 24-hour window, looked at again in an hour"
        )


class TelegramScenario(FakeServerScenario):
    adapter = TelegramChannel

    def __init__(self, server: FakeTelegram) -> None:
        super().__init__(server, f"/bot{TELEGRAM_TOKEN}/sendMessage")
        self.fake = server
        self.settings = {"token": "${TELEGRAM_BOT_TOKEN}", "chat_id": "@campagne", "api": server.url}
        self.secrets = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN}

    def published(self) -> int:
        return len(self.fake.messages)

    def refuse_next(self, message: str) -> None:
        body = {"ok": False, "error_code": 400, "description": f"Bad Request: {message}"}
        self.fake.fail("POST", self.path, 400, body)

    def throttle_next(self, seconds: int) -> None:
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds},
        }
        self.fake.fail("POST", self.path, 429, body)


class BlueskyScenario:
    adapter = BlueskyChannel
    create = "com.atproto.repo.createRecord"

    def __init__(self, pds: FakePDS) -> None:
        self.pds = pds
        self.settings = {"handle": pds.handle, "app_password": "${BSKY_APP_PASSWORD}", "pds": pds.url}
        self.secrets = {"BSKY_APP_PASSWORD": BLUESKY_PASSWORD}

    def published(self) -> int:
        return sum(1 for record in self.pds.records.values() if bluesky_server.POST in record["uri"])

    def refuse_next(self, message: str) -> None:
        self.pds.fail_next(self.create, xrpc_error(400, "InvalidRequest", message))

    def throttle_next(self, seconds: int) -> None:
        self.pds.rate_limit_next(self.create, reset_in=seconds)

    def lose_next_answer(self) -> None:
        self.pds.drop_after_next(self.create)


class WebhookScenario:
    adapter = WebhookChannel

    def __init__(self, hook: FakeWebhook) -> None:
        self.hook = hook
        # The hook's address is a secret too, as a Slack or Discord URL is.
        self.settings = {"url": "${HOOK_URL}", "secret": "${HOOK_SECRET}"}
        self.secrets = {"HOOK_URL": hook.url, "HOOK_SECRET": HOOK_SECRET}

    def published(self) -> int:
        return len(self.hook.posted)

    def refuse_next(self, message: str) -> None:
        self.hook.respond_next(400, message)

    def throttle_next(self, seconds: int) -> None:
        self.hook.respond_next(429, "slow down", {"Retry-After": str(seconds)})

    def lose_next_answer(self) -> None:
        self.hook.drop_next()


class TestDryRun(ChannelConformance):
    @pytest.fixture(params=[{}, {"like": "mastodon"}], ids=["own-rules", "like-mastodon"])
    def scenario(self, request: pytest.FixtureRequest, tmp_path: Path) -> Scenario:
        return DryRunScenario(tmp_path / "outbox.jsonl", **request.param)


class TestMastodon(ChannelConformance):
    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakeMastodon(MASTODON_TOKEN) as server:
            yield MastodonScenario(server)


class TestBluesky(ChannelConformance):
    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakePDS(password=BLUESKY_PASSWORD) as pds:
            yield BlueskyScenario(pds)


class TestX(ChannelConformance):
    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakeX() as server:
            yield XScenario(server)


class TestFacebook(ChannelConformance):
    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakeGraph(FACEBOOK_TOKEN) as graph:
            yield FacebookScenario(graph)


class TestLinkedIn(ChannelConformance):
    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakeLinkedIn(LINKEDIN_TOKEN) as server:
            yield LinkedInScenario(server)


class TestThreads(ChannelConformance):
    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakeThreads(THREADS_TOKEN) as server:
            yield ThreadsScenario(server)


class TestTelegram(ChannelConformance):
    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakeTelegram(TELEGRAM_TOKEN) as server:
            yield TelegramScenario(server)


class TestWebhook(ChannelConformance):
    @pytest.fixture
    def scenario(self) -> Iterator[Scenario]:
        with FakeWebhook(flavor="json", secret=HOOK_SECRET) as hook:
            yield WebhookScenario(hook)
