"""Syncing only what changed (scheduler.publish.synced) leaves the ledger as a full sync does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.content import cache as cache_module
from scheduler.content.cache import PlanCache
from scheduler.content.plan import build
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger
from scheduler.publish.publisher import Channels, Policy, Publisher
from tests.unit.test_plan_cache import STEPS, campaign, write

NOW = datetime(2027, 11, 15, 9, 30, tzinfo=UTC)  # a.md (10:00 in Amsterdam) is due and goes out
POLICY = Policy(
    max_late=timedelta(hours=1), max_attempts=8, retry_base=timedelta(seconds=1), stale_after=timedelta(seconds=60)
)
FIELDS = [
    "post",
    "channel",
    "path",
    "due",
    "max_late",
    "version",
    "key",
    "text_hash",
    "allow_repeat",
    "payload",
    "state",
    "reason",
    "attempts",
    "changed_after_publishing",
]


def publisher(root: Path, name: str) -> Publisher:
    ledger = Ledger(f"sqlite:///{root.parent / f'{name}.db'}")
    ledger.upgrade()
    channels = Channels(build(root).campaign, dry_run_dir=root.parent / name)
    (root.parent / name).mkdir()
    return Publisher(ledger, channels, Alerter(ledger), POLICY, f"test:{name}", clock=SimulatedClock(NOW))


def state(ledger: Ledger) -> list[tuple[Any, ...]]:
    return sorted(tuple(getattr(row, f) for f in FIELDS) for row in ledger.views.rows())


def test_syncing_what_changed_ends_where_a_full_sync_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # each write in these steps has its own mtime
    root = tmp_path / "campaign"
    campaign(root)
    changes, full = publisher(root, "changes"), publisher(root, "full")
    cache = PlanCache()
    looked: list[int] = []
    real_sync = changes.ledger.wanted.sync

    def sync(wanted: Any, *args: Any, **kwargs: Any) -> dict[str, int]:
        wanted = list(wanted)
        looked.append(len(wanted) if kwargs.get("gone") is not None else -1)
        return real_sync(wanted, *args, **kwargs)

    monkeypatch.setattr(changes.ledger.wanted, "sync", sync)
    changes.sync(build(root, cache=cache), NOW)
    full.sync(build(root), NOW)
    for one in (changes, full):  # a published send: repeats and changes after publishing count too
        assert [o.state for o in one.make_pass().sent] == ["published", "published"]
    for what, step in STEPS:
        step(root)
        changes.sync(build(root, cache=cache), NOW)
        Publisher(full.ledger, full.channels, full.alerter, POLICY, "test:fresh").sync(build(root), NOW)
        assert state(changes.ledger) == state(full.ledger), f"after '{what}'"
    assert looked[0] == -1, "the first sync is a full one"
    assert any(0 <= n <= 2 for n in looked[1:]), f"an edit of one post gives the ledger that post alone: {looked}"


def test_an_edit_syncs_only_that_post_and_the_safety_net_syncs_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "RACY_NS", 0)
    root = tmp_path / "campaign"
    campaign(root)
    one = publisher(root, "one")
    clock = [0.0]
    one.synced.clock = lambda: clock[0]
    cache = PlanCache()
    given: list[tuple[int, bool]] = []
    real_sync = one.ledger.wanted.sync

    def sync(wanted: Any, *args: Any, **kwargs: Any) -> dict[str, int]:
        wanted = list(wanted)
        given.append((len(wanted), kwargs.get("gone") is None))
        return real_sync(wanted, *args, **kwargs)

    monkeypatch.setattr(one.ledger.wanted, "sync", sync)
    one.sync(build(root, cache=cache), NOW)
    write(root, "posts/b.md", (root / "posts/b.md").read_text() + "Meer.\n")
    counts = one.sync(build(root, cache=cache), NOW)
    clock[0] += one.synced.full_every.total_seconds()
    one.sync(build(root, cache=cache), NOW)
    assert given == [(10, True), (2, False), (10, True)]  # b.md on its two channels; then everything
    assert counts["updated"] == 2, counts


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, len(STEPS) - 1), min_size=1, max_size=10), st.randoms(use_true_random=False))
def test_any_sequence_of_changes_syncs_as_a_full_sync_does(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int], rng: random.Random
) -> None:
    # Rows are compared by identity first (scheduler.publish.synced): any order of edits, sometimes
    # two before a sync, must still leave the ledger where a full sync of the same files leaves it.
    base = tmp_path_factory.mktemp("sequence")
    root = base / "campaign"
    original = cache_module.RACY_NS
    cache_module.RACY_NS = 0
    try:
        campaign(root)
        changes, full = publisher(root, "changes"), publisher(root, "full")
        cache = PlanCache()

        def both() -> None:
            changes.sync(build(root, cache=cache), NOW)
            Publisher(full.ledger, full.channels, full.alerter, POLICY, "test:fresh").sync(build(root), NOW)

        both()
        for index in steps:
            try:
                STEPS[index][1](root)
            except OSError:
                continue  # the file that step changes is gone already
            if rng.random() < 0.7:
                both()
        both()
        assert state(changes.ledger) == state(full.ledger), [STEPS[i][0] for i in steps]
    finally:
        cache_module.RACY_NS = original
