"""Views of a plan for people and machines: a text timeline, JSON and Markdown.

Each shows exactly the text that will be sent, produced by the same rendering as publishing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from itertools import groupby
from typing import Any

from babel.dates import format_date

from scheduler.content.plan import Entry, Plan
from scheduler.content.problems import Problem


def entry_record(entry: Entry, zone: tzinfo) -> dict[str, Any]:
    """The JSON shape of one planned post (documented in README.md)."""
    return {
        "due": entry.due.astimezone(zone).isoformat(),
        "channel": entry.channel.name,
        "type": entry.channel.type,
        "post": entry.draft.id,
        "path": entry.draft.path,
        "title": entry.draft.title,
        "draft": entry.draft.draft,
        "text": entry.post.text if entry.post else None,
        "media": [{"path": ref.path, "alt": ref.alt} for ref in entry.draft.media],
        "length": entry.length,
        "limit": entry.limit,
        "problems": [str(p) for p in entry.problems],
    }


def as_json(plan: Plan, entries: Iterable[Entry]) -> str:
    zone = plan.campaign.settings.timezone
    # One object per line: readable in a diff, and json's C encoder (indent= forces the slow one).
    lines = [json.dumps(entry_record(e, zone), ensure_ascii=False) for e in entries]
    return "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"


def _days(plan: Plan, entries: Iterable[Entry]) -> Iterator[tuple[str, list[Entry]]]:
    zone, language = plan.campaign.settings.timezone, plan.campaign.settings.language
    for day, group in groupby(entries, key=lambda e: e.due.astimezone(zone).date()):
        yield str(format_date(day, "EEEE d MMMM y", locale=language)), list(group)


def _local_time(entry: Entry, zone: tzinfo) -> str:
    local: datetime = entry.due.astimezone(zone)
    return local.strftime("%H:%M")


def as_text(plan: Plan, entries: list[Entry], color: bool = False) -> str:
    """A timeline grouped by local day: time, channel, post, length against limit, then the text."""
    import click

    def style(text: str, **kwargs: Any) -> str:
        return click.style(text, **kwargs) if color else text

    zone = plan.campaign.settings.timezone
    lines = [style(f"{plan.campaign.settings.name} · {len(entries)} sends · times in {zone}", bold=True)]
    for day, group in _days(plan, entries):
        lines += ["", style(day, bold=True, underline=True)]
        for entry in group:
            over = entry.length is not None and entry.limit is not None and entry.length > entry.limit
            size = f"{entry.length}/{entry.limit or '∞'}" if entry.length is not None else "not rendered"
            flags = " [draft]" if entry.draft.draft else ""
            lines.append(
                f"  {style(_local_time(entry, zone), fg='cyan')}  {entry.channel.name:<12} "
                f"{entry.draft.id}{flags}  ({style(size, fg='red' if over else 'green')})"
            )
            if entry.post:
                lines += [f"         │ {line}" for line in entry.post.text.splitlines()]
                lines += [f"         │ [image] {item.path.name}: {item.alt}" for item in entry.post.media]
            for problem in entry.problems:
                lines.append(
                    style(
                        f"         ! {problem.severity.value}: {problem.message}",
                        fg="red" if problem.is_error else "yellow",
                    )
                )
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def as_markdown(plan: Plan, entries: list[Entry], problems: Iterable[Problem] = ()) -> str:
    """A summary for a CI job page or a pull-request comment."""
    zone = plan.campaign.settings.timezone
    problems = list(problems)
    errors = sum(p.is_error for p in problems)
    lines = [
        f"## {plan.campaign.settings.name}: {len(entries)} posts",
        "",
        f"Times in {zone}. {errors} errors, {len(problems) - errors} warnings.",
    ]
    if problems:
        lines += ["", "### Problems", ""] + [
            f"- `{p.path}:{p.line}` **{p.severity.value}**: {p.message}" for p in problems
        ]
    for day, group in _days(plan, entries):
        lines += ["", f"### {day}", "", "| time | channel | post | length | text |", "|---|---|---|---|---|"]
        for entry in group:
            size = f"{entry.length}/{entry.limit or '∞'}" if entry.length is not None else "—"
            if entry.length is not None and entry.limit is not None and entry.length > entry.limit:
                size = f"**{size}** ⚠️"
            text = _md_cell(entry.post.text) if entry.post else "_not rendered_"
            lines.append(
                f"| {_local_time(entry, zone)} | {entry.channel.name} | `{entry.draft.id}` | {size} | {text} |"
            )
    return "\n".join(lines) + "\n"
