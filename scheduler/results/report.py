"""The retrospective as values: every published send with its counts at each age, and the same per
day of the campaign, per channel, per series and per hashtag, and the top posts.

Every figure is tied to the age it was measured at: a group's figure at "1 day" adds up only the
sends measured at 1 day, and says how many of its sends that is. A channel whose network has no
counts (webhooks, Telegram) is listed as such, never as zeros. The formats are in results/formats.py.

Series: the first folder of the post (`tips/01-maandag` → `tips`), as posts/ groups them.
Hashtags: those in the text that went out, so a later edit of hashtags.yml changes nothing here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from scheduler.channels.base import Counts
from scheduler.channels.registry import adapter_class
from scheduler.content.campaign import Campaign
from scheduler.content.text import urls
from scheduler.publish import payload
from scheduler.publish.ledger import Delivery, Ledger, Snapshot
from scheduler.publish.states import State

HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
TOP = 10


def engagement(counts: Counts) -> int:
    """Likes, reposts, replies and quotes together (views are not engagement)."""
    return sum(v or 0 for v in (counts.likes, counts.reposts, counts.replies, counts.quotes))


@dataclass(frozen=True)
class Measure:
    age: timedelta
    taken_at: datetime
    counts: Counts | None  # None: nothing measured (see note)
    note: str | None


@dataclass(frozen=True)
class Send:
    """One published post on one channel and what it reached."""

    post: str
    channel: str
    network: str
    series: str
    hashtags: tuple[str, ...]
    title: str | None
    text: str
    published_at: datetime
    url: str | None
    has_counts: bool
    measures: tuple[Measure, ...]
    looks_like: str = ""  # the network whose words its counts take: a dry run `like: facebook` has shares
    links: tuple[str, ...] = ()  # the links in the text that went out, each once (tagged as sent)

    @property
    def latest(self) -> Measure | None:
        """The oldest-age measure with counts: the best figure there is for this send."""
        return next((m for m in reversed(self.measures) if m.counts is not None), None)

    @property
    def engagement(self) -> int | None:
        """Engagement at the latest measure; None when nothing was measured."""
        latest = self.latest
        return engagement(latest.counts) if latest is not None and latest.counts is not None else None

    def at(self, age: timedelta) -> Counts | None:
        return next((m.counts for m in self.measures if m.age == age), None)


@dataclass(frozen=True)
class Figure:
    """A group's counts at one age: the sum over the sends measured then, and how many those are."""

    measured: int
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes


@dataclass(frozen=True)
class Group:
    key: str  # an ISO date for days, else the name
    label: str
    sends: int
    counted: int  # of which on networks with counts
    figures: dict[timedelta, Figure] = field(default_factory=dict)

    @property
    def best(self) -> tuple[timedelta, Figure] | None:
        """The figure at the oldest age that any of its sends was measured at."""
        measured = [(age, f) for age, f in self.figures.items() if f.measured]
        return max(measured, key=lambda pair: pair[0]) if measured else None


@dataclass(frozen=True)
class Report:
    campaign: str
    language: str
    zone: tzinfo
    start: datetime | None
    end: datetime | None
    ages: tuple[timedelta, ...]
    sends: tuple[Send, ...]
    days: tuple[Group, ...]
    channels: tuple[Group, ...]
    series: tuple[Group, ...]
    hashtags: tuple[Group, ...]
    without_counts: tuple[str, ...]  # channels whose network has no counts
    generated_at: datetime

    @property
    def made_up(self) -> bool:
        """Counts of dry-run channels: only a rehearsal (`rehearse --keep`) makes those up."""
        return any(s.network == "dryrun" and s.latest is not None for s in self.sends)

    @property
    def top(self) -> list[Send]:
        ranked = [s for s in self.sends if s.engagement is not None]
        return sorted(ranked, key=lambda s: (-(s.engagement or 0), s.published_at))[:TOP]


def build(
    ledger: Ledger,
    campaign: Campaign,
    ages: Sequence[timedelta],
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Report:
    """The report of the sends published in [start, end) (each end open when None)."""
    zone, language = campaign.settings.timezone, campaign.settings.language
    rows = [
        r
        for r in ledger.views.rows(states=(State.PUBLISHED,))
        if r.published_at is not None
        and (start is None or r.published_at >= start)
        and (end is None or r.published_at < end)
    ]
    taken: dict[int, list[Snapshot]] = {}
    for snap in ledger.results.snapshots():
        taken.setdefault(snap.delivery_id, []).append(snap)
    measured_channels = {r.channel for r in rows for s in taken.get(r.id, []) if s.counts is not None}
    sends = tuple(
        sorted(
            (_send(r, campaign, taken.get(r.id, []), measured_channels) for r in rows),
            key=lambda s: (s.published_at, s.channel, s.post),
        )
    )
    all_ages = tuple(sorted({*ages, *(m.age for s in sends for m in s.measures)}))
    by_day = _groups(sends, all_ages, lambda s: [s.published_at.astimezone(zone).date().isoformat()])
    return Report(
        campaign=campaign.settings.name,
        language=language,
        zone=zone,
        start=start,
        end=end,
        ages=all_ages,
        sends=sends,
        days=tuple(sorted(by_day, key=lambda g: g.key)),
        channels=tuple(sorted(_groups(sends, all_ages, lambda s: [s.channel]), key=lambda g: g.key)),
        series=tuple(sorted(_groups(sends, all_ages, lambda s: [s.series]), key=lambda g: g.key)),
        hashtags=tuple(
            sorted(_groups(sends, all_ages, lambda s: list(s.hashtags)), key=lambda g: (-g.sends, g.key.lower()))
        ),
        without_counts=tuple(sorted({s.channel for s in sends if not s.has_counts})),
        generated_at=now,
    )


def day_of(group: Group) -> date:
    return date.fromisoformat(group.key)


def _send(row: Delivery, campaign: Campaign, snaps: list[Snapshot], measured: set[str]) -> Send:
    config = campaign.channels.get(row.channel)
    network = config.type if config is not None else "?"
    try:
        has_counts = adapter_class(network).has_counts if config is not None else False
    except Exception:  # an adapter no longer installed: its figures, if any, still show
        has_counts = False
    try:
        post = payload.decode(row.payload, row.post, row.channel)
        text, title = "\n\n".join(post.thread), post.title
    except (ValueError, KeyError):
        text, title = "", None
    seen: dict[str, str] = {}
    for tag in HASHTAG.findall(text):
        seen.setdefault(tag.lower(), "#" + tag)
    return Send(
        post=row.post,
        channel=row.channel,
        network=network,
        series=row.post.split("/", 1)[0] if "/" in row.post else "",
        hashtags=tuple(seen.values()),
        title=title,
        text=text,
        published_at=row.published_at or row.updated_at,
        url=row.receipt_url,
        has_counts=has_counts or row.channel in measured,
        measures=tuple(Measure(s.age, s.taken_at, s.counts, s.note) for s in sorted(snaps, key=lambda s: s.age)),
        looks_like=(config.limits.network or network) if config is not None else network,
        links=tuple(dict.fromkeys(url for _, _, url in urls(text))),
    )


def _groups(sends: Iterable[Send], ages: Sequence[timedelta], keys_of: Callable[[Send], list[str]]) -> list[Group]:
    members: dict[str, list[Send]] = {}
    labels: dict[str, str] = {}
    for send in sends:
        for key in keys_of(send):
            members.setdefault(key.lower(), []).append(send)
            labels.setdefault(key.lower(), key)
    groups = []
    for key, group in members.items():
        figures = {}
        for age in ages:
            counted = [c for s in group if (c := s.at(age)) is not None]
            figures[age] = Figure(
                measured=len(counted),
                likes=sum(c.likes or 0 for c in counted),
                reposts=sum(c.reposts or 0 for c in counted),
                replies=sum(c.replies or 0 for c in counted),
                quotes=sum(c.quotes or 0 for c in counted),
            )
        groups.append(Group(labels[key], labels[key], len(group), sum(1 for s in group if s.has_counts), figures))
    return groups
