"""The conformance suite has teeth: an adapter that breaks one of the rules fails the test for it.

Each broken adapter below is a built-in one with one fault added, run through the suite's test
against the built-in's fake network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from scheduler.channels.base import Channel, Receipt
from scheduler.channels.facebook import FacebookChannel
from scheduler.channels.mastodon import MastodonChannel
from scheduler.channels.telegram import TelegramChannel
from scheduler.channels.x import XChannel
from scheduler.errors import InDoubt, Rejected, RetryLater
from scheduler.posts import RenderedPost
from scheduler.secrets import resolve
from scheduler.testing.conformance import ChannelConformance, Scenario
from tests.fakes.facebook_server import FakeGraph
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.x_server import FakeX
from tests.integration.test_conformance import (
    FACEBOOK_TOKEN,
    MASTODON_TOKEN,
    TELEGRAM_TOKEN,
    FacebookScenario,
    MastodonScenario,
    TelegramScenario,
    XScenario,
)

SUITE = ChannelConformance()
FAILED = (AssertionError, pytest.fail.Exception)


class ResendsWhenInDoubt(TelegramChannel):
    """Sends a post again when the answer was lost: Telegram has no key, so that is a second message."""

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        try:
            return super().publish(post, key, reply_to)
        except InDoubt:
            return super().publish(post, key, reply_to)


class ClaimsKeys(TelegramChannel):
    """Says Telegram deduplicates by key, which it does not."""

    idempotent_for = 3600.0


class LeaksTheToken(FacebookChannel):
    """Puts the token in the reason of a refusal."""

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        try:
            return super().publish(post, key, reply_to)
        except Rejected as exc:
            raise Rejected(f"{exc.reason} (sent with token {self.settings['token']})") from None


class ForgetsTheWait(MastodonChannel):
    """Drops the wait the network asked for."""

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        try:
            return super().publish(post, key, reply_to)
        except RetryLater as exc:
            raise RetryLater(exc.reason) from None


class RefusesWhenThrottled(MastodonChannel):
    """Takes a rate limit for a refusal: the post would fail for good."""

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        try:
            return super().publish(post, key, reply_to)
        except RetryLater as exc:
            raise Rejected(exc.reason) from None


class ClaimsLookup(TelegramChannel):
    """Says it can look posts up, and finds nothing: the publisher would send the post again."""

    can_lookup = True

    def lookup(self, key: str, post: RenderedPost, since: datetime) -> Receipt | None:
        return None


def build(scenario: Scenario, adapter: type[Channel]) -> Channel:
    return adapter("conformance", resolve(dict(scenario.settings), env=dict(scenario.secrets)))


@pytest.fixture
def x() -> Iterator[XScenario]:
    with FakeX() as server:
        yield XScenario(server)


@pytest.fixture
def mastodon() -> Iterator[MastodonScenario]:
    with FakeMastodon(MASTODON_TOKEN) as server:
        yield MastodonScenario(server)


@pytest.fixture
def facebook() -> Iterator[FacebookScenario]:
    with FakeGraph(FACEBOOK_TOKEN) as graph:
        yield FacebookScenario(graph)


@pytest.fixture
def telegram() -> Iterator[TelegramScenario]:
    with FakeTelegram(TELEGRAM_TOKEN) as server:
        yield TelegramScenario(server)


def fails(test: Callable[[Scenario, Channel], None], scenario: Scenario, adapter: type[Channel]) -> str:
    """What the suite's `test` says of `adapter`; it must fail."""
    channel = build(scenario, adapter)
    try:
        with pytest.raises(FAILED) as caught:
            test(scenario, channel)
    finally:
        channel.close()
    return str(caught.value)


def test_an_adapter_that_resends_a_lost_post_by_itself_fails(telegram: TelegramScenario) -> None:
    test = SUITE.test_a_lost_answer_is_in_doubt_then_settled_as_the_channel_declares
    said = fails(test, telegram, ResendsWhenInDoubt)
    assert "expected InDoubt" in said
    assert len(telegram.fake.messages) == 2  # the harm the test stands for


def test_an_adapter_that_claims_keys_the_network_lacks_fails(telegram: TelegramScenario) -> None:
    said = fails(SUITE.test_a_post_goes_out_once_with_a_receipt, telegram, ClaimsKeys)
    assert "second post" in said


def test_an_adapter_that_leaks_its_token_in_an_error_fails(facebook: FacebookScenario) -> None:
    said = fails(SUITE.test_no_secret_in_any_error, facebook, LeaksTheToken)
    assert "FACEBOOK_PAGE_TOKEN" in said and FACEBOOK_TOKEN not in said


@pytest.mark.parametrize("adapter", [ForgetsTheWait, RefusesWhenThrottled])
def test_an_adapter_that_mishandles_a_rate_limit_fails(mastodon: MastodonScenario, adapter: type[Channel]) -> None:
    fails(SUITE.test_a_rate_limit_is_retry_later_with_the_networks_wait, mastodon, adapter)


def test_an_adapter_that_claims_a_lookup_it_cannot_do_fails(telegram: TelegramScenario) -> None:
    said = fails(SUITE.test_a_lost_answer_is_in_doubt_then_settled_as_the_channel_declares, telegram, ClaimsLookup)
    assert "was not found" in said


def test_the_built_in_adapters_pass_the_same_tests(x: XScenario, facebook: FacebookScenario) -> None:
    # The control: the faults above, not the scenarios, are what fails.
    for scenario, adapter in ((x, XChannel), (facebook, FacebookChannel)):
        channel = build(scenario, adapter)
        try:
            SUITE.test_a_lost_answer_is_in_doubt_then_settled_as_the_channel_declares(scenario, channel)
            SUITE.test_no_secret_in_any_error(scenario, channel)
        finally:
            channel.close()
