"""The HTML preview: the plan as a calendar that people open in a browser.

One self-contained page (inline CSS, a few lines of optional JS, images as data: URIs) in the
campaign's time zone and language: per month a month grid that links to a week view, where
every post on every channel is a card that looks roughly like the network shows it.

Draft text is untrusted: pages are rendered by their own Jinja2 environment with autoescape on
(not the sandboxed environment that renders post bodies), and nothing from a draft is ever
marked safe. Big campaigns are split into an index page and one page per month.
"""

from __future__ import annotations

import base64
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache, lru_cache
from itertools import groupby
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from babel import Locale
from babel.dates import format_date
from jinja2 import Environment, PackageLoader, StrictUndefined

from scheduler.content.parallel import map_forked
from scheduler.content.plan import Entry, Plan, Unplaced
from scheduler.content.problems import Problem
from scheduler.media import video
from scheduler.media.renditions import shown
from scheduler.posts import MediaItem, MediaRules
from scheduler.views.labels import clock, labels
from scheduler.views.labels import count as counted
from scheduler.views.preview import Signoffs, card_signoff, signoff_note
from scheduler.views.spans import parts as _parts

EMBED_MAX_BYTES = 150_000  # images up to this size are embedded as data: URIs ...
PAGE_EMBED_BUDGET = 1_500_000  # ... until a page holds this many bytes of them
ONE_PAGE_MAX_ENTRIES = 2_000  # above this, an index page and one page per month
CHIPS_PER_DAY = 4  # posts listed in a month-grid cell before "+N more"
NETWORK_NAMES = {  # as the networks write their own names (the legend of the calendar's coloured dots)
    "x": "X",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "facebook": "Facebook",
    "linkedin": "LinkedIn",
    "telegram": "Telegram",
    "webhook": "Webhook",
}
_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


@dataclass(frozen=True)
class Image:
    name: str  # as written in the post, relative to the campaign root
    alt: str
    src: str | None  # a data: URI (a video's: its first frame), or None when not embedded
    note: str = ""  # what goes out on the card's network: the rendition's dimensions and size
    video: str = ""  # a video's length and captions ("0:02 · captions: nl, en"); empty for an image


@dataclass(frozen=True, slots=True)
class Card:
    """One entry as the page shows it. Plain values only: the template escapes every one."""

    anchor: str
    due: str  # local ISO 8601, as in preview.entry_record
    time: str  # 09:00
    channel: str
    account: str  # "dryrun · bluesky": the type, and the network whose look a dry-run channel borrows
    network: str
    title: str
    post: str
    draft: bool
    text: tuple[tuple[str, str], ...] | None  # (kind, text): kind "" for plain, or link, tag, mention
    images: tuple[Image, ...]
    length: str  # "284 / 300 tekens", empty when not rendered
    fill: int | None  # percent of the limit used, at most 100; None without a limit
    level: str  # "", "near" or "over" the limit
    problems: tuple[Problem, ...]
    errors: bool
    part: str = ""  # "2/4" on each card of a thread (one card per part); "" for one post
    state: str = ""  # the web dashboard's: the delivery's state in the ledger ("" in the preview)
    state_text: str = ""  # that state in the page's language
    url: str = ""  # where it went out, when it did
    signoff: tuple[str, ...] = ()  # its post's sign-off: (its state, where it stands in the page's language)

    @property
    def state_class(self) -> str:
        return f" state-{self.state}" if self.state else ""

    @property
    def initial(self) -> str:
        return self.channel[:1].upper()

    @property
    def classes(self) -> str:
        state = " has-error" if self.errors else " has-warning" if self.problems else ""
        thread = " is-thread" if self.part else ""
        return f"card net-{self.network}{state}{thread}{' is-draft' if self.draft else ''}{self.state_class}"

    @property
    def day(self) -> date:
        return date.fromisoformat(self.due[:10])


@dataclass(frozen=True)
class Day:
    day: date
    label: str
    cards: tuple[Card, ...]

    @property
    def anchor(self) -> str:
        return f"d-{self.day.isoformat()}"

    def slots(self) -> list[list[Card]]:
        """The cards of one post at one time, per post and time: one line in a month-grid cell."""
        slots: dict[tuple[str, str], list[Card]] = {}
        for card in self.cards:
            slots.setdefault((card.time, card.post), []).append(card)
        return list(slots.values())


@dataclass(frozen=True)
class Week:
    number: int
    label: str
    days: tuple[Day, ...]

    @property
    def anchor(self) -> str:
        return f"w-{self.days[0].day.isoformat()}"


@dataclass(frozen=True)
class Month:
    key: str  # 2027-11
    title: str
    page: str  # the file its cards are in; "" for this page
    grid: tuple[tuple[Day | None, ...], ...]  # rows of 7; None outside the month
    weeks: tuple[Week, ...]  # weeks with posts
    count: int
    networks: tuple[tuple[str, str], ...] = ()  # (network, its name) of the month's cards: the dots' legend


class _Builder:
    """Turns entries into cards, and cards into months, weeks and days, in the campaign's language."""

    def __init__(self, plan: Plan, signoffs: Signoffs | Literal[False] = False) -> None:
        self.signoffs = signoffs  # False: cards say nothing of sign-off (the dashboard's own views do)
        self.root = plan.campaign.root
        self.zone = plan.campaign.settings.timezone
        self.language = plan.campaign.settings.language
        locale = Locale.parse(self.language)
        self.first_weekday = locale.first_week_day
        self.labels = labels(self.language)
        self.embedded = 0
        self._data_uris: dict[Path, str | None] = {}

    def cards(self, entries: Iterable[Entry], *, chips: bool = False) -> list[Card]:
        """`chips`: only what a month grid's chips show (no text, images or length), for an index page."""
        if chips:
            return [self.card(e, chips) for e in entries]
        return [card for e in entries for card in self.thread_cards(e)]

    def thread_cards(self, entry: Entry) -> list[Card]:
        """One card per post as it goes out: one, or each part of a thread, images on the first."""
        card = self.card(entry)
        post = entry.post
        if post is None or not post.parts:
            return [card]
        total = len(post.parts)
        rule = entry.channel.limits.length_for(bool(entry.draft.media))
        cards = []
        for index, text in enumerate(post.parts, 1):
            size, fill, level = self._size(entry, rule.measure(text), rule.limit)
            cards.append(
                replace(
                    card,
                    anchor=card.anchor if index == 1 else f"{card.anchor}-{index}",
                    text=_parts(text),
                    images=card.images if index == 1 else (),
                    length=size,
                    fill=fill,
                    level=level,
                    problems=card.problems if index == 1 else (),
                    part=f"{index}/{total}",
                )
            )
        return cards

    def card(self, entry: Entry, chip: bool = False) -> Card:
        channel, draft, post, length, limit = entry.channel, entry.draft, entry.post, entry.length, entry.limit
        network = channel.limits.network or channel.type  # a dry run shows as the network it is like
        due = entry.due.astimezone(self.zone).isoformat()
        size, fill, level = "", None, ""
        if length is not None and not chip:
            size, fill, level = self._size(entry, length, limit)
        return Card(
            anchor=f"{draft.id}@{channel.name}",
            due=due,
            time=due[11:16],
            channel=channel.name,
            account=channel.type if network == channel.type else f"{channel.type} · {network}",
            network=network,
            title=draft.title or "",
            post=draft.id,
            draft=draft.draft,
            text=None if post is None or chip else _parts(post.text),
            images=tuple(self.medium(m, channel.limits.media) for m in post.media) if post and not chip else (),
            length=size,
            fill=fill,
            level=level,
            problems=entry.problems,
            errors=any(p.is_error for p in entry.problems),
            signoff=card_signoff(entry, self.signoffs, self.zone, self.language),
        )

    def _size(self, entry: Entry, length: int, limit: int | None) -> tuple[str, int | None, str]:
        """What a card says of its length, how full its bar is, and whether it is near or over."""
        unit = entry.channel.limits.length_for(bool(entry.draft.media)).unit
        unit = self.labels.get(unit, unit)
        size, fill, level = f"{length} {unit}", None, ""
        if limit:
            size = f"{length} / {limit} {unit}"
            fill = min(100, 100 * length // limit)
            level = "over" if length > limit else "near" if length >= 0.9 * limit else ""
            if length > limit:
                size += f", {length - limit} {self.labels['over']}"
        else:
            size += f", {self.labels['no_limit']}"
        return size, fill, level

    def medium(self, item: MediaItem, rules: MediaRules | None = None) -> Image:
        """An image as it goes out on a network with `rules` (its rendition), or a video as its first frame,
        its length and its captions."""
        if not item.is_video:
            return self.image(item.path, item.alt, rules)
        name = item.path.relative_to(self.root).as_posix() if item.path.is_relative_to(self.root) else item.path.name
        if item.path not in self._data_uris:
            self._data_uris[item.path] = self._poster_uri(item.path)
        length = f"{clock(item.video.seconds)} · " if item.video is not None else ""
        if item.captions:
            about = f"{self.labels['captions']}: {', '.join(c.language for c in item.captions)}"
        else:
            about = f"{self.labels['no_captions']}: {item.no_captions or ''}"
        return Image(name, item.alt, self._data_uris[item.path], video=f"{self.labels['video']} {length}{about}")

    def _poster_uri(self, path: Path) -> str | None:
        try:
            png = video.poster(path)
        except video.VideoUnreadable:
            return None
        if len(png) > EMBED_MAX_BYTES or self.embedded + len(png) > PAGE_EMBED_BUDGET:
            return None
        self.embedded += len(png)
        return f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}"

    def image(self, path: Path, alt: str, rules: MediaRules | None = None) -> Image:
        """The image as it goes out on a network with `rules` (its rendition), else as the file is."""
        name = path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else path.name
        made = shown(path, rules) if rules is not None else None
        embedded = made.path if made else path
        if embedded not in self._data_uris:
            self._data_uris[embedded] = self._data_uri(embedded)
        note = f"{made.width}×{made.height}, {made.size / 1000:,.0f} kB" if made else ""
        return Image(name, alt, self._data_uris[embedded], note)

    def _data_uri(self, path: Path) -> str | None:
        kind = _IMAGE_TYPES.get(path.suffix.lower())
        try:
            size = path.stat().st_size
        except OSError:
            return None
        if kind is None or size > EMBED_MAX_BYTES or self.embedded + size > PAGE_EMBED_BUDGET:
            return None
        self.embedded += size
        return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

    def day_label(self, day: date, pattern: str = "EEEE d MMMM") -> str:
        return str(format_date(day, pattern, locale=self.language))

    def months(self, cards: Sequence[Card], page_of: dict[str, str]) -> list[Month]:
        by_day: dict[date, list[Card]] = {}
        for card in cards:
            by_day.setdefault(card.day, []).append(card)
        months = []
        for key, days in groupby(sorted(by_day), key=lambda d: f"{d:%Y-%m}"):
            first = next(days).replace(day=1)
            months.append(self.month(first, by_day, page_of.get(key, "")))
        return months

    def month(self, first: date, by_day: dict[date, list[Card]], page: str) -> Month:
        end = (first + timedelta(days=32)).replace(day=1)
        start = first - timedelta(days=(first.weekday() - self.first_weekday) % 7)
        rows: list[tuple[Day | None, ...]] = []
        weeks: list[Week] = []
        day = start
        while day < end:
            week = tuple(self._day(day + timedelta(days=i), by_day) for i in range(7))
            rows.append(tuple(d if d.day.month == first.month else None for d in week))
            if any(d.cards and d.day.month == first.month for d in week):
                shown = tuple(d if d.day.month == first.month else Day(d.day, d.label, ()) for d in week)
                weeks.append(Week(week[0].day.isocalendar().week, self._range(week[0].day, week[-1].day), shown))
            day += timedelta(days=7)
        count = sum(len(cards) for d, cards in by_day.items() if first <= d < end)
        title = _month_title(first, self.language)
        found = sorted({c.network for d, cards in by_day.items() if first <= d < end for c in cards})
        networks = tuple((n, NETWORK_NAMES.get(n, n.capitalize())) for n in found)
        return Month(f"{first:%Y-%m}", title, page, tuple(rows), tuple(weeks), count, networks)

    def _day(self, day: date, by_day: dict[date, list[Card]]) -> Day:
        return Day(day, self.day_label(day), tuple(by_day.get(day, ())))

    def _range(self, first: date, last: date) -> str:
        if first.month == last.month:
            return f"{first.day}–{self.day_label(last, 'd MMMM y')}"
        return f"{self.day_label(first, 'd MMMM')} – {self.day_label(last, 'd MMMM y')}"


@lru_cache(maxsize=65_536)  # a post's text is the same on most of its channels
@cache
def _environment() -> Environment:
    # Autoescape on for every template: draft text and problem messages are never trusted.
    return Environment(
        loader=PackageLoader("scheduler.views", "templates"),
        autoescape=True,
        auto_reload=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _context(
    plan: Plan, language: str, entries: Sequence[Entry], problems: Sequence[Problem], unplaced: Sequence[Unplaced]
) -> dict[str, Any]:
    """What every page shows: the campaign, its totals, the problems and the posts not on the calendar."""
    settings = plan.campaign.settings
    locale = Locale.parse(language)
    short, wide = locale.days["format"]["abbreviated"], locale.days["format"]["wide"]
    order = [(locale.first_week_day + i) % 7 for i in range(7)]
    errors = sum(p.is_error for p in problems)

    def count(number: int, word: str) -> str:
        """A number and its word in the page's language: "3 berichten", "1 bericht"."""
        return counted(number, word, language)

    period = ""
    if entries:
        days = (e.due.astimezone(settings.timezone).date() for e in (entries[0], entries[-1]))
        first, last = (format_date(day, "d MMMM y", locale=language) for day in days)
        period = first if first == last else f"{first} – {last}"
    return {
        "lang": language,
        "name": settings.name,
        "zone": str(settings.timezone),
        "L": labels(language),
        "weekdays": [(str(short[i]), str(wide[i])) for i in order],
        "totals": {
            "sends": len(entries),
            "posts": len({e.draft.id for e in entries}),
            "channels": len({e.channel.name for e in entries}),
            "errors": errors,
            "warnings": len(problems) - errors,
        },
        "count": count,
        "period": period,
        "has_errors": errors > 0,
        "problems": problems,
        "unplaced": unplaced,
        "chips": CHIPS_PER_DAY,
        "inline_style": True,  # a self-contained file; the web dashboard's CSP sets the bars from its script
    }


@contextmanager
def _gc_spares_the_plan() -> Iterator[None]:
    """Keep the collector from rescanning the (large, long-lived) plan for every page's many small strings.

    Without this the collector's full passes take two thirds of the rendering time of a big campaign.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def render_page(
    plan: Plan,
    entries: Iterable[Entry],
    problems: Iterable[Problem],
    unplaced: Iterable[Unplaced] | None = None,
    signoffs: Signoffs = None,
) -> str:
    """The whole preview as one self-contained HTML page; every month after the first collapsed.

    `unplaced`: the posts listed as not on the calendar (default: all of the plan's); `signoffs`: as in
    preview.as_json."""
    entries = list(entries)
    unplaced = list(plan.unplaced if unplaced is None else unplaced)
    with _gc_spares_the_plan():
        builder = _Builder(plan, signoffs)
        context = _context(plan, builder.language, entries, list(problems), unplaced)
        context["signoff_note"] = signoff_note(entries, signoffs, builder.language)
        months = builder.months(builder.cards(entries), {})
        return _environment().get_template("page.html").render(context, months=months, pages=None, current=None)


def calendar(plan: Plan, entries: Iterable[Entry], decorate: Callable[[Card], Card] | None = None) -> dict[str, Any]:
    """What templates/calendar.html needs, for a page that embeds it (the web dashboard): the context of
    the preview (without its problems) and the months of `entries`, each card passed through `decorate`."""
    entries = list(entries)
    builder = _Builder(plan)
    context = _context(plan, builder.language, entries, [], [])
    cards = builder.cards(entries)
    if decorate is not None:
        cards = [decorate(card) for card in cards]
    context.update(months=builder.months(cards, {}), pages=None, current=None, inline_style=False)
    return context


def card_list(plan: Plan, entries: Iterable[Entry], decorate: Callable[[Card], Card] | None = None) -> dict[str, Any]:
    """What templates/cards.html needs for `entries` (as `day.cards`), for a page that embeds it."""
    entries = list(entries)
    builder = _Builder(plan)
    cards = builder.cards(entries)
    context = _context(plan, builder.language, entries, [], [])
    context.update(day={"cards": [decorate(c) for c in cards] if decorate else cards}, inline_style=False)
    return context


def render_pages(
    plan: Plan,
    entries: Iterable[Entry],
    problems: Iterable[Problem],
    name: str,
    unplaced: Iterable[Unplaced] | None = None,
    signoffs: Signoffs = None,
) -> dict[str, str]:
    """File name → page: `name` alone, or for big campaigns `name` as an index plus one page per month.

    Month pages are named after `name`: preview.html → preview-2027-11.html. They are rendered in
    forked workers where that pays (see scheduler.content.parallel).
    """
    entries = list(entries)
    unplaced = list(plan.unplaced if unplaced is None else unplaced)
    if len(entries) <= ONE_PAGE_MAX_ENTRIES:
        return {name: render_page(plan, entries, problems, unplaced, signoffs)}
    with _gc_spares_the_plan():
        return _split(plan, entries, list(problems), name, unplaced, signoffs)


def _split(
    plan: Plan, entries: list[Entry], problems: list[Problem], name: str, unplaced: list[Unplaced], signoffs: Signoffs
) -> dict[str, str]:
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix or ".html"
    zone = plan.campaign.settings.timezone
    grouped: dict[str, list[Entry]] = {}
    for entry in entries:
        grouped.setdefault(f"{entry.due.astimezone(zone):%Y-%m}", []).append(entry)
    language = plan.campaign.settings.language
    context = _context(plan, language, entries, problems, unplaced)
    context["signoff_note"] = signoff_note(entries, signoffs, language)
    template = _environment().get_template("page.html")
    page_of = {key: f"{stem}-{key}{suffix}" for key in sorted(grouped)}
    pages = [
        (_month_title(date.fromisoformat(f"{key}-01"), language), page, len(grouped[key]))
        for key, page in page_of.items()
    ]

    def render(key: str | None) -> str:
        """The index page (key None: a month grid per month, linking to the month pages), or one month's page."""
        builder = _Builder(plan, signoffs)  # each page its own budget of embedded images
        if key is None:
            months = builder.months(builder.cards(entries, chips=True), page_of)
            return template.render(context, months=months, pages=pages, current=None, index=name)
        months = builder.months(builder.cards(grouped[key]), {})
        return template.render(context, months=months, pages=pages, current=page_of[key], index=name)

    keys: list[str | None] = [None, *page_of]
    return dict(zip([name, *page_of.values()], map_forked(render, keys, min_items=2), strict=True))


def _month_title(first: date, language: str) -> str:
    return str(format_date(first, "LLLL y", locale=language))
