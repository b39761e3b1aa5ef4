"""The plan: every (post, channel) with its due time and rendered text, and every problem.

Files → plan is the first step of the one-way flow files → plan → ledger → channel. `validate`,
`preview`, `diff` and the daemon all build the plan with this one function.
"""

from __future__ import annotations

import gc
import re
import time
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

from scheduler.content import campaign as campaign_file
from scheduler.content import drafts as drafts_file
from scheduler.content.cache import PlanCache
from scheduler.content.campaign import Campaign, ChannelConfig
from scheduler.content.collisions import Collisions
from scheduler.content.drafts import Draft, is_post_id
from scheduler.content.parallel import map_forked
from scheduler.content.problems import Problem, error, human_said, sort_problems, warning
from scheduler.content.render import Rendered, Renderer
from scheduler.content.salvage import Salvaged, default_id, salvage
from scheduler.content.schedule import ScheduleError, TooFewOccurrences, series
from scheduler.content.stored import Store
from scheduler.posts import RenderedPost
from scheduler.words import N_, Said


@dataclass(frozen=True)
class Entry:
    """One post on one channel at one time."""

    due: datetime  # UTC
    draft: Draft
    channel: ChannelConfig
    post: RenderedPost | None  # None when it could not be rendered
    length: int | None
    limit: int | None
    problems: tuple[Problem, ...]

    @property
    def publishable(self) -> bool:
        """Rendered, free of errors, and not a draft."""
        return self.post is not None and not self.draft.draft and not any(p.is_error for p in self.problems)

    @property
    def sort_key(self) -> tuple[datetime, str, str]:
        return (self.due, self.channel.name, self.draft.id)


_SORT_KEY = attrgetter("due", "channel.name", "draft.id")  # Entry.sort_key, without a call per entry


@dataclass(frozen=True)
class Unplaced:
    """A post that is not on the calendar: it did not read, or has no time or no channel. Never sent."""

    post: str  # its id; for a file that did not read, its path under posts/ without .md
    path: str
    title: str | None
    draft: bool
    problems: tuple[Problem, ...]  # every problem of its file, sorted
    # Where a person is told of it (a held row in the ledger; see scheduler.content.salvage): the id its
    # ledger rows have (its path's when no id can be read), the channels and the rough time its file names.
    key: str = ""
    channels: tuple[str, ...] = ()
    due: datetime | None = None  # UTC


@dataclass(frozen=True)
class Plan:
    campaign: Campaign
    entries: tuple[Entry, ...]  # sorted by due, channel, post; drafts included (see Entry.draft)
    problems: tuple[Problem, ...]  # every problem, sorted
    unplaced: tuple[Unplaced, ...] = ()  # sorted by path; drafts only when they have problems
    drafts: tuple[Draft, ...] = ()  # every post read without errors (drafts included)
    read_ns: int = field(default=0, compare=False)  # when the build began reading (time.time_ns()); 0: unknown

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    def problems_of(
        self, *, start: datetime | None = None, end: datetime | None = None, channel: str | None = None
    ) -> list[Problem]:
        """The problems a view of this selection lists: all, except those of posts whose sends all fall
        outside it. Drafts count as shown, so a view without filters lists exactly what validate lists."""
        near = {e.draft.path for e in self.select(start=start, end=end, channel=channel, drafts=True)}
        elsewhere = {e.draft.path for e in self.entries} - near
        return [p for p in self.problems if p.path not in elsewhere]

    def select(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        channel: str | None = None,
        drafts: bool = False,
    ) -> list[Entry]:
        return [
            e
            for e in self.entries
            if (drafts or not e.draft.draft)
            and (start is None or e.due >= start)
            and (end is None or e.due < end)
            and (channel is None or e.channel.name == channel)
        ]


def build(root: Path, *, parallel: bool = False, cache: PlanCache | None = None, store: Store | None = None) -> Plan:
    """Read the campaign at `root` and plan every post on every channel.

    `parallel`: read and render in forked workers when there are many posts (see
    scheduler.content.parallel); only for a process without other threads and open connections.
    `cache`: what earlier builds read and rendered (scheduler.content.cache): only files that
    changed are read again, and only sends whose inputs changed rendered again; the plan is the
    same. With a cache, everything is done in this process.
    `store`: posts read and sends rendered by earlier runs, on disk (scheduler.content.stored; for
    validate and preview only, never the daemon; not used with `cache`). The plan is the same.
    """
    # Planning allocates many small objects that all live on; the cycle collector would rescan
    # them again and again (a fifth of the time for 10,000 posts), and it finds nothing to free.
    enabled = gc.isenabled()
    gc.disable()
    try:
        if cache is None:
            return _build(root, parallel, None, time.time_ns(), store)
        with cache.lock:
            cache.begin(root)
            plan = _build(root, False, cache, time.time_ns())
            cache.end(plan, plan.campaign.channels)
            return plan
    finally:
        if enabled:
            gc.enable()


def _build(root: Path, parallel: bool, cache: PlanCache | None, began: int, store: Store | None = None) -> Plan:
    if store is not None:
        store.begin(root)  # before anything is read: what it hashes is what the plan reads, or older
    campaign, problems = cache.campaign(root) if cache else campaign_file.load(root)
    if store is not None:
        store.zone(campaign)
    reader = cache.reader(campaign) if cache else store.reader() if store else None
    drafts, draft_problems = drafts_file.read_all(campaign, parallel=parallel, reader=reader)
    problems += draft_problems
    times = _times(drafts, campaign, problems)
    if cache is not None:
        entries = _cached_entries(cache, campaign, drafts, times)
    else:
        renderer = Renderer(campaign)
        sends = [
            (draft, campaign.channels[name], due)
            for draft in drafts
            if (due := times.get(draft.id)) is not None
            for name in draft.channels
            if name in campaign.channels  # not a broken entry of channels.yml (see Campaign.broken_channels)
        ]

        def render(send: tuple[Draft, ChannelConfig, datetime]) -> Rendered:
            return renderer.render(*send)

        known = store.known_sends(sends) if store is not None else None
        todo = [send for send, rendered in zip(sends, known, strict=True) if rendered is None] if known else sends
        renders: Iterable[Rendered] = map_forked(render, todo) if parallel else map(render, todo)
        if store is not None:
            renders = list(renders)
            store.rendered(todo, renders)
        if known:
            fresh = iter(renders)
            renders = [rendered if rendered is not None else next(fresh) for rendered in known]
        entries = [
            Entry(due, draft, channel, rendered.post, rendered.length, rendered.limit, rendered.problems)
            for (draft, channel, due), rendered in zip(sends, renders, strict=True)
        ]
    entries.sort(key=_SORT_KEY)
    entries = (cache.collisions if cache is not None else Collisions[Entry]()).check(entries)
    entries = _whole_posts(entries)
    all_problems = sort_problems([*problems, *(p for e in entries for p in e.problems)])
    unplaced = _unplaced(campaign, drafts, entries, all_problems)
    return Plan(campaign, tuple(entries), tuple(all_problems), unplaced, tuple(drafts), began)


def _whole_posts(entries: list[Entry]) -> list[Entry]:
    """Every send of a post with the errors of all its sends: a post goes out on all its channels or
    on none (a text too long for Bluesky is not published on Mastodon alone), so the preview, the
    export and the daemon's holds all see each of its sends as held, with the real cause."""
    errors: dict[str, list[Problem]] = {}
    for entry in entries:
        if entry.problems:
            found = [p for p in entry.problems if p.is_error]
            if found:
                errors.setdefault(entry.draft.id, []).extend(found)
    if not errors:
        return entries
    whole = []
    for entry in entries:
        of_post = errors.get(entry.draft.id)
        missing = [p for p in dict.fromkeys(of_post) if p not in entry.problems] if of_post else None
        whole.append(replace(entry, problems=(*entry.problems, *missing)) if missing else entry)
    return whole


def _cached_entries(
    cache: PlanCache, campaign: Campaign, drafts: list[Draft], times: dict[str, datetime]
) -> list[Entry]:
    """The entries `build` makes, each post rendered again only if its inputs changed (see cache.py)."""
    renderer = cache.renderer(campaign)
    entries: list[Entry] = []
    for draft in drafts:
        due = times.get(draft.id)
        if due is None:
            continue
        channels = [campaign.channels[name] for name in draft.channels if name in campaign.channels]

        def make(channel: ChannelConfig, draft: Draft = draft, due: datetime = due) -> Entry:
            rendered = renderer.render(draft, channel, due)
            return Entry(due, draft, channel, rendered.post, rendered.length, rendered.limit, rendered.problems)

        entries += cache.sends(draft, due, channels, make)
    return entries


def _unplaced(
    campaign: Campaign, drafts: list[Draft], entries: list[Entry], problems: list[Problem]
) -> tuple[Unplaced, ...]:
    """Posts with no entry: files that did not read (known only by their problems) and drafts without a time.
    Each that is not a draft gets what its file still says of when and where (scheduler.content.salvage)."""
    placed = {e.draft.path for e in entries}
    by_path: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        if problem.path.startswith("posts/") and problem.path.endswith(".md") and problem.path not in placed:
            by_path[problem.path].append(problem)
    found = {}
    for d in drafts:
        if d.path in placed or (d.draft and d.path not in by_path):
            continue
        own = by_path.get(d.path, [])
        if d.series is not None:  # a schedule that failed is reported on its _defaults.yml line
            own += [p for p in problems if (p.path, p.line) == d.line_of("schedule")]
        channels = tuple(c for c in d.channels if c in campaign.channels)
        found[d.path] = Unplaced(d.id, d.path, d.title, d.draft, tuple(sort_problems(own)), d.id, channels)
    taken = {e.draft.id for e in entries} | {u.key for u in found.values()}
    broken: dict[str, Salvaged] = {}
    memo: dict[str, Any] = {}
    for path, own in by_path.items():
        if path in found:
            continue
        post_id = default_id(path)
        seen = salvage(campaign, path, memo)
        key = seen.id if seen.id is not None and _usable_id(seen.id, own, taken) else post_id
        taken.add(key)
        broken[path] = seen
        found[path] = Unplaced(post_id, path, None, seen.draft, tuple(own), key, seen.channels, seen.due)
    for path, when in _series_slots(campaign, drafts, broken).items():
        found[path] = replace(found[path], due=when)
    return tuple(found[path] for path in sorted(found, key=_natural))


def _usable_id(given: str, own: list[Problem], taken: set[str]) -> bool:
    """Whether a broken post's own `id:` can key its ledger rows: valid, not one that two files use
    (each is then known by its path), and not another post's."""
    return is_post_id(given) and given not in taken and not any(p.message.startswith("post id ") for p in own)


def _series_slots(campaign: Campaign, drafts: list[Draft], broken: dict[str, Salvaged]) -> dict[str, datetime]:
    """The slot a broken member of a series would have among the members that read (by file name)."""
    slots: dict[str, datetime] = {}
    by_series: dict[str, list[str]] = defaultdict(list)
    for path, seen in broken.items():
        if seen.due is None and seen.series is not None:
            by_series[seen.series].append(path)
    for defaults_path, paths in by_series.items():
        members = sorted([*(d.path for d in drafts if d.series == defaults_path), *paths], key=_natural)
        try:
            occurrences = series(broken[paths[0]].schedule, campaign.settings.timezone, len(members))
        except TooFewOccurrences as exc:
            occurrences = exc.occurrences
        except ScheduleError:
            continue
        for path, occurrence in zip(members, occurrences, strict=False):
            if path in broken:
                slots[path] = occurrence.when
    return slots


def _natural(path: str) -> list[object]:
    return [(0, int(part)) if part.isdigit() else (1, part.casefold()) for part in re.split(r"(\d+)", path)]


def _times(drafts: list[Draft], campaign: Campaign, problems: list[Problem]) -> dict[str, datetime]:
    """Due time (UTC) per post id: its publish_at, or its place in its folder's series."""
    times: dict[str, datetime] = {}
    members: dict[str, list[Draft]] = defaultdict(list)
    for draft in drafts:
        if draft.publish_at is not None:
            times[draft.id] = draft.publish_at
        elif draft.series is not None:
            members[draft.series].append(draft)
        elif not draft.draft:
            problems.append(
                error(draft.path, 1, Said.of(N_("no publish_at, and no schedule in its folder's _defaults.yml")))
            )
    for _defaults_path, group in members.items():
        group.sort(key=lambda d: _natural(d.path))  # drafts keep their slot: finishing one shifts nothing
        spec_origin = group[0].line_of("schedule")
        try:
            occurrences = series(group[0].schedule, campaign.settings.timezone, len(group))
        except TooFewOccurrences as exc:  # the posts that fit keep their slots; the rest are named
            extra = group[len(exc.occurrences) :]
            names = ", ".join(d.path for d in extra)
            problems.append(
                error(
                    spec_origin[0],
                    spec_origin[1],
                    Said.of(N_("schedule: {problem}; no slot for {names}"), problem=exc.said, names=names),
                )
            )
            left = Said.of(N_("no slot left in its series ({path}: {problem})"), path=spec_origin[0], problem=exc.said)
            problems += [error(d.path, 1, left) for d in extra]
            occurrences, group = exc.occurrences, group[: len(exc.occurrences)]
        except ScheduleError as exc:
            problems.append(error(spec_origin[0], spec_origin[1], Said.of(N_("schedule: {problem}"), problem=exc.said)))
            continue
        for draft, occurrence in zip(group, occurrences, strict=True):
            times[draft.id] = occurrence.when
            if occurrence.warning:
                problems.append(
                    warning(draft.path, 1, Said.of(N_("series slot {problem}"), problem=occurrence.warning))
                )
    return times


def with_past_due(plan: Plan, now: datetime, published: Collection[tuple[str, str]] = ()) -> Plan:
    """The plan with a warning on every send whose time is before `now` (UTC), on the line of its time:
    its publish_at, or its folder's schedule. Drafts, and sends in `published` ((post, channel) pairs
    the ledger has as published), are not warned about."""
    done = set(published)
    zone = plan.campaign.settings.timezone
    entries = []
    found = []
    for entry in plan.entries:
        if entry.due >= now or entry.draft.draft or (entry.draft.id, entry.channel.name) in done:
            entries.append(entry)
            continue
        path, line = entry.draft.line_of("publish_at" if entry.draft.publish_at is not None else "schedule")
        local = entry.due.astimezone(zone)
        late = warning(
            path,
            line,
            Said.of(
                N_("{post} on {channel} was due {ago} ({time})"),
                post=entry.draft.id,
                channel=entry.channel.name,
                ago=_ago(now - entry.due),
                time=f"{local:%Y-%m-%d %H:%M} {local.tzname()}",
            ),
        )
        found.append(late)
        entries.append(replace(entry, problems=(*entry.problems, late)))
    if not found:
        return plan
    return replace(plan, entries=tuple(entries), problems=tuple(sort_problems([*plan.problems, *found])))


def _ago(delta: timedelta) -> Said:
    """How long ago, in the largest whole unit: "3 days ago", "1 hour ago", "less than a minute ago"."""
    if delta < timedelta(minutes=1):
        return Said.of(N_("less than a minute ago"))
    return Said.of(N_("{time} ago"), time=human_said(delta))
