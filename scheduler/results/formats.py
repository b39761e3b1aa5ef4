"""The retrospective (results.report) as JSON, CSV (one row per send and age), Markdown and HTML.

CSV columns, in this order (docs/results.md, "The retrospective"):
    post, channel, network, series, hashtags (space-separated), title, published_at (ISO 8601 in the
    campaign's zone), url, age (as words), age_seconds, measured_at, likes, reposts, replies, quotes,
    views, engagement (likes + reposts + replies + quotes), note
A count the network does not give is empty, never 0. A send on a network without counts has one
row with empty age and the note "no counts on this network". A cell that a spreadsheet program
would run as a formula (a title starting with `=`, say) gets a `'` in front (scheduler.formulas).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, select_autoescape

from scheduler import formulas
from scheduler.channels.base import Counts
from scheduler.results.labels import count as counted
from scheduler.results.labels import labels
from scheduler.results.report import Figure, Group, Report, Send, engagement
from scheduler.terminal import in_json, shown

COLUMNS = (
    "post",
    "channel",
    "network",
    "series",
    "hashtags",
    "title",
    "published_at",
    "url",
    "links",
    "age",
    "age_seconds",
    "measured_at",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "views",
    "engagement",
    "note",
)
COUNTED = ("likes", "reposts", "replies", "quotes", "views")


def age_words(age: timedelta, language: str = "en") -> str:
    return format_timedelta(age, threshold=1, locale=language)


# ------------------------------------------------------------------------------------ JSON


def to_json(report: Report) -> str:
    def figures(group: Group) -> dict[str, Any]:
        return {age_words(age): _figure(f) for age, f in group.figures.items()}

    def groups(items: tuple[Group, ...]) -> list[dict[str, Any]]:
        return [{"name": g.label, "sends": g.sends, "sends_with_counts": g.counted, "at": figures(g)} for g in items]

    data = {
        "campaign": report.campaign,
        "timezone": str(report.zone),
        "from": _iso(report.start, report),
        "to": _iso(report.end, report),
        "ages": [age_words(a) for a in report.ages],
        "without_counts": list(report.without_counts),
        "made_up": report.made_up,
        "sends": [_send(s, report) for s in report.sends],
        "by_day": groups(report.days),
        "by_channel": groups(report.channels),
        "by_series": groups(report.series),
        "by_hashtag": groups(report.hashtags),
        "top": [{"post": s.post, "channel": s.channel, "url": s.url, "engagement": s.engagement} for s in report.top],
    }
    return in_json(json.dumps(data, ensure_ascii=False, indent=2))


def _figure(figure: Figure) -> dict[str, int]:
    return {
        "measured": figure.measured,
        "likes": figure.likes,
        "reposts": figure.reposts,
        "replies": figure.replies,
        "quotes": figure.quotes,
        "engagement": figure.engagement,
    }


def _send(send: Send, report: Report) -> dict[str, Any]:
    return {
        "post": send.post,
        "channel": send.channel,
        "network": send.network,
        "series": send.series,
        "hashtags": list(send.hashtags),
        "title": send.title,
        "published_at": _iso(send.published_at, report),
        "url": send.url,
        "links": list(send.links),
        "has_counts": send.has_counts,
        "measures": [
            {
                "age": age_words(m.age),
                "age_seconds": int(m.age.total_seconds()),
                "measured_at": _iso(m.taken_at, report),
                "counts": None if m.counts is None else _counts(m.counts),
                "note": m.note,
            }
            for m in send.measures
        ],
    }


def _counts(counts: Counts) -> dict[str, int | None]:
    return {name: getattr(counts, name) for name in COUNTED} | {"engagement": engagement(counts)}


def _iso(moment: datetime | None, report: Report) -> str | None:
    return None if moment is None else moment.astimezone(report.zone).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------ CSV


class _Defused:
    """A csv writer whose cells never start a formula."""

    def __init__(self, out: io.StringIO) -> None:
        self.writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: list[Any] | tuple[Any, ...]) -> None:
        self.writer.writerow([formulas.defuse(cell) for cell in row])


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = _Defused(out)
    writer.writerow(COLUMNS)
    for send in report.sends:
        first = [
            send.post,
            send.channel,
            send.network,
            send.series,
            " ".join(send.hashtags),
            send.title or "",
            _iso(send.published_at, report),
            shown(send.url or ""),  # the network's: printed to a terminal as often as opened in a sheet
            " ".join(shown(link) for link in send.links),  # as they went out, UTM parameters and all
        ]
        if not send.has_counts:
            writer.writerow([*first, "", "", "", "", "", "", "", "", "", "no counts on this network"])
            continue
        for m in send.measures:
            counts = [
                ("" if m.counts is None or getattr(m.counts, n) is None else getattr(m.counts, n)) for n in COUNTED
            ]
            total = "" if m.counts is None else engagement(m.counts)
            row = [age_words(m.age), int(m.age.total_seconds()), _iso(m.taken_at, report), *counts, total, m.note or ""]
            writer.writerow([*first, *row])
    return out.getvalue()


# ------------------------------------------------------------------------------------ Markdown


def to_markdown(report: Report) -> str:
    words = labels(report.language)
    lines = [f"## {report.campaign}: {words['title']}", ""]
    lines.append(f"{_count(len(report.sends), 'sends', words, report)} · {words['times_in']} {report.zone}")
    if report.made_up:
        lines += ["", f"_{words['made_up']}_"]
    if report.without_counts:
        lines.append("")
        lines.append(f"{words['no_counts']}: {', '.join(report.without_counts)}")
    ages = report.ages
    header = f"| | {words['sends']} | " + " | ".join(age_words(a, report.language) for a in ages) + " |"
    for title, groups in (
        (words["per_day"], report.days),
        (words["per_channel"], report.channels),
        (words["per_series"], report.series),
        (words["per_hashtag"], report.hashtags),
    ):
        lines += ["", f"### {title}", "", header, "|" + " --- |" * (len(ages) + 2)]
        for group in groups:
            name = _day(group.key, report) if groups is report.days else group.label or words["no_series"]
            cells = [_cell(group.figures.get(a), group.counted, report) for a in ages]
            lines.append(f"| {_md(name)} | {group.sends} | " + " | ".join(cells) + " |")
    lines += ["", f"### {words['top']}", ""]
    for rank, send in enumerate(report.top, 1):
        latest = send.latest
        age = age_words(latest.age, report.language) if latest else ""
        url = shown(send.url or "")  # the network's: shown, never obeyed
        name = _md(send.title or send.post)
        link = f"[{name}]({url})" if url.startswith("http") else name
        figure = f"{counted(send.engagement or 0, 'engagement', report.language)} ({words['at']} {age})"
        lines.append(f"{rank}. {link} {words['on']} {send.channel}: {figure}")
    lines += ["", f"_{words['legend']}_", ""]
    return "\n".join(lines)


def _cell(figure: Figure | None, counted: int, report: Report) -> str:
    if figure is None or not figure.measured:
        return "–"
    return f"{_number(figure.engagement, report)} ({figure.measured}/{counted})"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")


def _number(value: int, report: Report) -> str:
    return format_decimal(value, locale=report.language)


def _count(number: int, word: str, words: dict[str, str], report: Report) -> str:
    return counted(number, word, report.language)


def _day(key: str, report: Report) -> str:
    return format_date(datetime.fromisoformat(key).date(), "EEE d MMM y", locale=report.language)


# ------------------------------------------------------------------------------------ HTML


def to_html(report: Report) -> str:
    """One self-contained page: inline CSS, SVG charts, no scripts at all."""
    env = Environment(loader=PackageLoader("scheduler.results", "templates"), autoescape=select_autoescape(["html"]))
    words = labels(report.language)
    best_age = _common_age(report)
    return env.get_template("report.html").render(
        r=report,
        L=words,
        best_age=best_age,
        best_age_words=age_words(best_age, report.language) if best_age else "",
        age=lambda a: age_words(a, report.language),
        day=lambda key: _day(key, report),
        when=lambda m: format_datetime(m.astimezone(report.zone), "d MMM y HH:mm zzz", locale=report.language),
        number=lambda v: _number(v, report),
        lang=report.language,
        count=lambda n, w: counted(n, w, report.language),
        bars=lambda groups, names=False: _bars(groups, best_age, report, names),
        period=_period(report),
        cell=lambda f, n: _cell(f, n, report),
    )


def _period(report: Report) -> str:
    """'15 nov 2027 – 21 nov 2027': the days the selection covers (a --to date includes its day)."""

    def day(moment: datetime) -> str:
        return format_date(moment.astimezone(report.zone).date(), "d MMM y", locale=report.language)

    start = day(report.start) if report.start else ""
    end = day(report.end - timedelta(microseconds=1)) if report.end else ""
    return f"{start} – {end}" if start or end else ""


def _common_age(report: Report) -> timedelta | None:
    """The oldest age at which most measured sends were measured: what the charts compare."""
    best: tuple[int, timedelta] | None = None
    for age in report.ages:
        measured = sum(1 for s in report.sends if s.at(age) is not None)
        if measured and (best is None or measured >= best[0]):
            best = (measured, age)
    return best[1] if best else None


def _bars(groups: tuple[Group, ...], age: timedelta | None, report: Report, names: bool) -> list[dict[str, Any]]:
    """Bars of a chart: label, value and width in per cent of the largest."""
    values = [(g, g.figures[age].engagement if age is not None and age in g.figures else 0) for g in groups]
    top = max((v for _, v in values), default=0) or 1
    return [
        {
            "label": (g.label or labels(report.language)["no_series"]) if names else _day(g.key, report),
            "value": v,
            "shown": _number(v, report),
            "measured": g.figures[age].measured if age is not None and age in g.figures else 0,
            "share": round(100 * v / top, 1),
        }
        for g, v in values
    ]
