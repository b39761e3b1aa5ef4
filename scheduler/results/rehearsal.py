"""Counts for a rehearsal: its dry-run posts gather made-up counts (channels.dryrun.SimulatedCounts)
on its simulated clock, at every age, so `rehearse --keep` gives a ledger that `report` can show."""

from __future__ import annotations

from pathlib import Path

from scheduler.channels.base import Channel
from scheduler.channels.dryrun import SimulatedCounts
from scheduler.content.campaign import Campaign
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger
from scheduler.publish.states import State
from scheduler.results.collector import Collector, Config


class _Simulated:
    """Every channel of the campaign as a dry-run channel with made-up counts, writing nowhere new."""

    def __init__(self, campaign: Campaign, outbox: Path, clock: SimulatedClock) -> None:
        self.campaign, self.outbox, self.clock = campaign, outbox, clock
        self._made: dict[str, Channel] = {}

    def get(self, name: str) -> Channel:
        if name not in self._made:
            self._made[name] = SimulatedCounts(name, {"outbox": str(self.outbox)}, clock=self.clock.now)
        return self._made[name]

    def update(self, campaign: Campaign) -> None:
        self.campaign = campaign

    def close(self) -> None:
        self._made.clear()


def collect(ledger: Ledger, campaign: Campaign, outbox: Path, clock: SimulatedClock, root: Path, config: Config) -> int:
    """Take every snapshot of every published send at its age, moving `clock`; how many were taken."""
    alerter = Alerter(ledger, None, campaign.settings.language)
    collector = Collector(ledger, _Simulated(campaign, outbox, clock), alerter, clock, root, config)
    times = sorted(
        {
            row.published_at + age
            for row in ledger.views.rows(states=(State.PUBLISHED,))
            if row.published_at
            for age in config.ages
        }
    )
    taken = 0
    for moment in times:
        clock.set(moment)
        taken += collector.collect(moment).snapshots
    return taken
