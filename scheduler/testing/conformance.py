"""The conformance suite every channel adapter passes: publish, a refused post, a retry-after, a
lost answer settled by lookup or left in doubt, limits, and no secret in any error.

An adapter's author runs it against their own local server (docs/adapters.md, "The conformance
suite"): a test class inherits `ChannelConformance` and gives a `scenario` fixture, an object with
the `Scenario` methods. pytest then collects the suite's tests in that class:

    class TestMyNetwork(ChannelConformance):
        @pytest.fixture
        def scenario(self) -> Iterator[Scenario]:
            with MyFakeServer() as server:
                yield MyScenario(server)

What the suite accepts follows what the adapter declares (`can_lookup`, `idempotent_for`,
`Limits.replies`), the same declarations the publisher acts on: a network without lookup or
idempotency keys passes with a lost answer left in doubt, which is what the publisher then does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import pytest

from scheduler.channels.base import Channel, Receipt
from scheduler.errors import ChannelError, InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, RenderedPost
from scheduler.secrets import resolve

#: The wait a throttled answer asks for, in seconds, and how far the adapter's figure may be off
#: (a reset given as an epoch or in whole minutes, read a moment later).
THROTTLE_SECONDS = 600
THROTTLE_SLACK = 60
#: The text of a post for a network without a length limit.
UNLIMITED_LENGTH = 1000

E = TypeVar("E", bound=ChannelError)


class CannotStage(Exception):
    """Raised by a Scenario for a failure its channel cannot meet at all (a dry run has no network
    that could refuse a post): the test says so and is skipped, with this message as its reason."""


class Scenario(Protocol):
    """What an author gives the suite: their adapter, its settings against their local server, and
    switches that make the server's next answer to a publishing request a failure."""

    @property
    def adapter(self) -> type[Channel]:
        """The adapter class under test."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """The channel's settings as in channels.yml, pointing at the local server; secrets written
        as `${NAME}` references, resolved from `secrets` as the daemon resolves them."""

    @property
    def secrets(self) -> Mapping[str, str]:
        """The value of each `${NAME}` in `settings`. None may appear in any error or log line."""

    def published(self) -> int:
        """How many posts the server holds now (what it has published, whatever answer it gave)."""

    def refuse_next(self, message: str) -> None:
        """The next publishing request is refused, as the network refuses a post it will never take
        (a 4xx with its error body), with `message` in the network's own words."""

    def throttle_next(self, seconds: int) -> None:
        """The next publishing request is refused for a rate limit, saying to wait `seconds`
        (Retry-After, a reset header: however the network says it). Nothing is published."""

    def lose_next_answer(self) -> None:
        """The next publishing request is carried out (the post is out), then the connection
        closes without an answer."""


class ChannelConformance:
    """The suite. Inherit it in a class named Test… and give that class a `scenario` fixture."""

    @pytest.fixture
    def scenario(self) -> Scenario:
        raise NotImplementedError("the test class gives a `scenario` fixture: see scheduler.testing.conformance")

    @pytest.fixture
    def channel(self, scenario: Scenario, caplog: pytest.LogCaptureFixture) -> Iterator[Channel]:
        """The adapter built as the daemon builds it; afterwards, no secret may be in the log."""
        caplog.set_level(logging.DEBUG)
        adapter = scenario.adapter("conformance", resolve(dict(scenario.settings), env=dict(scenario.secrets)))
        yield adapter
        adapter.close()
        for record in caplog.records:
            _keeps_secrets(scenario, record.getMessage(), f"the log record {record.name}:{record.levelname}")

    def test_a_post_goes_out_once_with_a_receipt(self, scenario: Scenario, channel: Channel) -> None:
        post, key = _post(channel), _key()
        before = scenario.published()
        receipt = channel.publish(post, key)
        assert isinstance(receipt, Receipt), f"publish returned {receipt!r}, not a Receipt"
        assert receipt.url or receipt.remote_id, "the receipt has neither the post's URL nor its id"
        assert scenario.published() == before + 1
        if channel.idempotent_for > 0:  # declared: sending again with the same key makes no second post
            again = channel.publish(post, key)
            assert scenario.published() == before + 1, "idempotent_for > 0, yet the same key made a second post"
            assert again.remote_id == receipt.remote_id

    def test_a_refused_post_is_rejected_in_the_networks_words(self, scenario: Scenario, channel: Channel) -> None:
        marker = f"refused-{uuid.uuid4().hex[:12]}"
        _stage(scenario, scenario.refuse_next, f"{marker}: this post breaks the rules")
        before = scenario.published()
        error = _raises(scenario, Rejected, lambda: channel.publish(_post(channel), _key()))
        assert marker in error.reason, f"the reason {error.reason!r} leaves out what the network said"
        assert scenario.published() == before

    def test_a_rate_limit_is_retry_later_with_the_networks_wait(self, scenario: Scenario, channel: Channel) -> None:
        post, key = _post(channel), _key()
        _stage(scenario, scenario.throttle_next, THROTTLE_SECONDS)
        before = scenario.published()
        error = _raises(scenario, RetryLater, lambda: channel.publish(post, key))
        assert error.after is not None, "RetryLater without `after`: the network said how long to wait"
        assert THROTTLE_SECONDS - THROTTLE_SLACK <= error.after <= THROTTLE_SECONDS + 1, error.after
        assert scenario.published() == before, "RetryLater means nothing was published"
        channel.publish(post, key)  # what the publisher does once the wait is over
        assert scenario.published() == before + 1

    def test_a_lost_answer_is_in_doubt_then_settled_as_the_channel_declares(
        self, scenario: Scenario, channel: Channel
    ) -> None:
        post, key = _post(channel), _key()
        _stage(scenario, scenario.lose_next_answer)
        since = datetime.now(UTC) - timedelta(seconds=1)
        before = scenario.published()
        _raises(scenario, InDoubt, lambda: channel.publish(post, key))
        assert scenario.published() == before + 1, "the adapter sent the post again by itself"
        if channel.can_lookup:  # the publisher asks the network
            found = channel.lookup(key, post, since)
            assert found is not None, "can_lookup, yet the post the network has was not found"
            assert found.url or found.remote_id
            other = _post(channel)
            try:
                never = channel.lookup(_key(), other, since)
            except InDoubt:
                never = None  # "not found, but may be out" is an honest answer where there is no key
            assert never is None, f"lookup found {never!r} for a post never sent"
        elif channel.idempotent_for > 0:  # the publisher sends again with the same key
            again = channel.publish(post, key)
            assert again.url or again.remote_id
        # else the publisher leaves it to a person ("in doubt"): the adapter must not have resent it (above)
        assert scenario.published() == before + 1

    def test_limits_are_the_networks_and_a_post_at_the_limit_goes_out(
        self, scenario: Scenario, channel: Channel
    ) -> None:
        # As `campaign validate` asks: from channels.yml's settings, secrets unresolved, no network.
        limits = type(channel).limits(scenario.settings)
        assert isinstance(limits, Limits)
        assert limits.length.limit is None or limits.length.limit > 0
        assert limits.media.max_items is None or limits.media.max_items >= 0
        text = _at_limit(limits.length, uuid.uuid4().hex)
        assert not limits.length.problems(text)
        before = scenario.published()
        first = channel.publish(_post(channel, text), _key())
        assert scenario.published() == before + 1
        if limits.replies:  # the publisher sends a thread's parts as replies to the one before
            reply = channel.publish(_post(channel), _key(), reply_to=first)
            assert reply.url or reply.remote_id
            assert scenario.published() == before + 2

    def test_no_secret_in_any_error(self, scenario: Scenario, channel: Channel) -> None:
        echoed = " ".join(scenario.secrets.values())
        _stage(scenario, scenario.refuse_next, f"refused; the server repeats what it was sent: {echoed}")
        _raises(scenario, Rejected, lambda: channel.publish(_post(channel), _key()))
        _keeps_secrets(scenario, channel.check(), "what check() verified")


def _key() -> str:
    return f"conformance-{uuid.uuid4().hex}"


def _post(channel: Channel, text: str | None = None) -> RenderedPost:
    unique = uuid.uuid4().hex[:12]
    text = text or f"Conformance check {unique}: one post, sent exactly once."
    return RenderedPost(post=f"conformance/{unique}", channel=channel.name, text=text, language="en")


def _at_limit(rule: LengthRule, unique: str) -> str:
    """A text exactly as long as `rule` allows (by its own measure), starting with `unique`."""
    if rule.limit is None:
        return (unique + " " + "a" * UNLIMITED_LENGTH)[:UNLIMITED_LENGTH]
    text = unique + " " + "a" * max(0, rule.limit - rule.measure(unique + " "))
    while rule.problems(text):
        text = text[:-1]
    return text


def _stage(scenario: Scenario, switch: Callable[..., None], *args: Any) -> None:
    try:
        switch(*args)
    except CannotStage as exc:
        pytest.skip(f"{scenario.adapter.type_name}: {exc}")


def _raises(scenario: Scenario, kind: type[E], call: Callable[[], object]) -> E:
    """The error `call` raises, which must be a `kind` and hold no secret anywhere in its chain."""
    try:
        result = call()
    except ChannelError as exc:
        if not isinstance(exc, kind):
            pytest.fail(f"expected {kind.__name__}, got {exc.__class__.__name__}: {exc.reason}")
        seen: BaseException | None = exc
        while seen is not None:  # error reporters walk __cause__ and __context__
            _keeps_secrets(scenario, f"{seen} {seen!r} {getattr(seen, 'reason', '')}", "an error it raised")
            seen = seen.__cause__ or seen.__context__
        return exc
    pytest.fail(f"expected {kind.__name__}, but publish returned {result!r}")


def _keeps_secrets(scenario: Scenario, text: str, where: str) -> None:
    for name, value in scenario.secrets.items():
        if len(value) >= 4:  # as scheduler.secrets.remember: shorter values are ordinary words
            assert value not in text, f"the secret {name} is in {where}"
