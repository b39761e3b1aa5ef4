"""Views of a schedule diff (scheduler.views.diff): text for a terminal, Markdown for a pull request, JSON.

Times are local to each side's campaign, in its language. The Markdown view puts draft text only
in code spans and diff blocks, so nothing in a post is rendered as Markdown or HTML, and a
`@name` in a post does not notify a GitHub user.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from babel.dates import format_datetime

from scheduler.content.plan import Entry
from scheduler.content.problems import Problem
from scheduler.signoff.state import in_the_ledger, needs
from scheduler.views.diff import WORKING_TREE, Change, Diff, Side
from scheduler.views.labels import count, labels
from scheduler.views.preview import entry_record, md_plain
from scheduler.words import translator

MAX_ROWS = 50  # per section of the Markdown view; a PR comment takes at most 65,536 characters
_ASPECTS = {"media": "media changed", "draft": "draft flag changed"}


def _when(diff: Diff, entry: Entry, old: bool = False) -> str:
    side = diff.base if old else diff.head
    plan = side.plan or (diff.head.plan if old else diff.base.plan)
    assert plan is not None  # an entry comes from a plan
    settings = plan.campaign.settings
    local = entry.due.astimezone(settings.timezone)
    return str(format_datetime(local, "EEE d MMM y HH:mm", locale=settings.language))


def _zone(diff: Diff) -> str:
    plan = diff.head.plan or diff.base.plan
    return str(plan.campaign.settings.timezone) if plan else "the campaign's time zone"


def _name(side: Side) -> str:
    return side.revision if side.commit is None else f"{side.revision} ({side.commit[:7]})"


def _summary(diff: Diff) -> str:
    parts = [
        f"sends: {diff.count('added')} added",
        f"{diff.count('removed')} removed",
        f"{diff.count('changed', 'time')} moved",
        f"{diff.count('changed', 'text')} text changed",
    ]
    other = sum(c.kind == "changed" and not {"time", "text"} & set(c.aspects) for c in diff.changes)
    if other:
        parts.append(f"{other} other changes")
    return " · ".join(parts)


def _notes(diff: Diff) -> list[str]:
    notes = []
    for side, what in ((diff.base, "added"), (diff.head, "removed")):
        if side.plan is None:
            notes.append(f"{_name(side)} has no campaign in this folder: every post counts as {what}.")
    return notes


def _text(entry: Entry | None) -> str:
    """The text as it goes out: a thread's parts one after the other, each under its number."""
    if entry is None or entry.post is None:
        return "(not rendered)"
    parts = entry.post.parts
    if not parts:
        return entry.post.text
    return "\n\n".join(f"[thread part {i}/{len(parts)}]\n{part}" for i, part in enumerate(parts, 1))


def _grouped(changes: Iterable[Change]) -> list[list[Change]]:
    """Changes that differ only in their channel, together: one line for a post on three channels."""
    groups: dict[tuple[object, ...], list[Change]] = {}
    for c in changes:
        texts = (_text(c.old), _text(c.new)) if c.kind != "changed" or "text" in c.aspects else ()
        key = (c.post, c.kind, c.aspects, c.old and c.old.due, c.new and c.new.due, *texts)
        groups.setdefault(key, []).append(c)
    return list(groups.values())


def _channels(group: list[Change]) -> str:
    return ", ".join(c.channel for c in group)


def _line_diff(old: str, new: str) -> list[str]:
    """Old and new text line by line: ' ' same, '-' only old, '+' only new."""
    a, b = old.splitlines(), new.splitlines()
    lines = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            lines += [" " + line for line in a[i1:i2]]
        else:
            lines += ["-" + line for line in a[i1:i2]] + ["+" + line for line in b[j1:j2]]
    return lines


def _what(diff: Diff, change: Change) -> str:
    if change.kind != "changed":
        return change.kind
    words = []
    if "time" in change.aspects:
        assert change.old is not None
        words.append(f"moved from {_when(diff, change.old, old=True)}")
    words += ["text changed" if a == "text" else _ASPECTS[a] for a in change.aspects if a != "time"]
    return ", ".join(words)


def _problem_lines(diff: Diff, show: Callable[[str, Problem], str]) -> list[str]:
    groups = (
        ("new", diff.new_problems),
        ("fixed", diff.fixed_problems),
        ("still", diff.remaining_errors),
    )
    return [show(label, p) for label, problems in groups for p in problems]


def as_text(diff: Diff) -> str:
    """For a terminal: one line per changed send, the text diff under changed text."""
    lines = [f"Schedule: {_name(diff.base)} → {_name(diff.head)} · times in {_zone(diff)}", *_notes(diff)]
    lines.append(f"{_summary(diff)} · {diff.unchanged} unchanged")
    symbols = {"added": "+", "removed": "-", "changed": "~"}
    for group in _grouped(diff.changes):
        change = group[0]
        when = _when(diff, change.entry, old=change.new is None)
        lines.append(f"{symbols[change.kind]} {when:<22} {change.post}  [{_channels(group)}]  {_what(diff, change)}")
        if change.new is not None and change.new.draft.signoff:
            lines.append(f"      ⚑ {needs(change.new.draft.signoff)}")
        if "text" in change.aspects:
            lines += ["      │ " + line for line in _line_diff(_text(change.old), _text(change.new))]
    problems = _problem_lines(diff, lambda label, p: f"  {label}: {p}")
    if problems:
        lines += ["", "Problems (new in HEAD, fixed, and errors still there):", *problems]
    return "\n".join(lines)


def _code(text: str, width: int = 80) -> str:
    """`text`'s first line, shortened, as an inline code span that is safe in a table cell."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if len(first) > width or "\n" in text.strip():
        first = first[:width].rstrip() + "…"
    first = first.replace("|", "\\|")
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", first)), default=0) + 1)
    return f"{ticks} {first} {ticks}" if first else ""


def _post(change: Change) -> str:
    """A post as people know it: its title, its id where it has none (a code span, so it stays inert)."""
    name = change.entry.draft.title or change.post
    return _code(name, width=60) if "`" in name or len(name) > 60 else "`" + name.replace("|", "\\|") + "`"


_plain = md_plain  # our own messages as inert Markdown


def _fence(lines: list[str]) -> list[str]:
    longest = max((len(run) for line in lines for run in re.findall(r"`{3,}", line)), default=2)
    fence = "`" * (longest + 1)
    return [fence + "diff", *lines, fence]


def _language(diff: Diff) -> str:
    plan = diff.head.plan or diff.base.plan
    return plan.campaign.settings.language if plan else "en"


def as_markdown(diff: Diff) -> str:
    """For a pull request comment or a CI job summary, in the campaign's language: tables, and old/new text
    as diff blocks; the problems' text too (`validate` gives it in English)."""
    language = _language(diff)
    _, L = translator(language).gettext, labels(language)
    aspects = {"media": _("media changed"), "draft": _("draft flag changed")}
    severity = {"error": L["error"].lower(), "warning": L["warning"].lower()}
    head = _("Schedule changes: {base} → {head}").format(base=f"`{_name(diff.base)}`", head=f"`{_name(diff.head)}`")
    other_count = sum(c.kind == "changed" and not {"time", "text"} & set(c.aspects) for c in diff.changes)
    summary = [
        _("sends: {n} added").format(n=diff.count("added")),
        _("{n} removed").format(n=diff.count("removed")),
        _("{n} moved").format(n=diff.count("changed", "time")),
        _("{n} with changed text").format(n=diff.count("changed", "text")),
    ]
    if other_count:
        summary.append(_("{n} other changes").format(n=other_count))
    lines = [
        f"### {head}",
        "",
        f"**{' · '.join(summary)}** · "
        + _("{n} unchanged").format(n=diff.unchanged)
        + " · "
        + _("times in {zone}").format(zone=_zone(diff)),
    ]
    for side, is_base in ((diff.base, True), (diff.head, False)):
        if side.plan is None:
            note = _("{name} has no campaign in this folder: every post counts as added.") if is_base else None
            note = note or _("{name} has no campaign in this folder: every post counts as removed.")
            lines.append("\n> " + note.format(name=_name(side)))
    groups = _grouped(diff.changes)
    added = [g for g in groups if g[0].kind == "added"]
    removed = [g for g in groups if g[0].kind == "removed"]
    moved = [g for g in groups if "time" in g[0].aspects]
    texts = [g for g in groups if "text" in g[0].aspects]
    other = [g for g in groups if set(g[0].aspects) & set(_ASPECTS)]

    def more(rows: int) -> list[str]:
        if rows <= MAX_ROWS:
            return []
        return ["", _("…and {n} more: run `campaign diff` for all.").format(n=rows - MAX_ROWS)]

    def section(title: str, rows: list[list[Change]], head: list[str], row: Callable[[list[Change]], str]) -> list[str]:
        if not rows:
            return []
        sends = count(sum(len(group) for group in rows), "sends", language)
        lines = ["", f"#### {title} ({sends})", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return lines + [row(group) for group in rows[:MAX_ROWS]] + more(len(rows))

    def sent(old: bool) -> Callable[[list[Change]], str]:
        def row(g: list[Change]) -> str:
            c = g[0]
            text = _code(_text(c.old if old else c.new))
            return f"| {_when(diff, c.entry, old)} | {_channels(g)} | {_post(c)} | {text} |"

        return row

    def moved_row(g: list[Change]) -> str:
        c = g[0]
        was = _when(diff, c.old, old=True) if c.old else ""
        return f"| {_post(c)} | {_channels(g)} | {was} | {_when(diff, c.entry)} |"

    def other_row(g: list[Change]) -> str:
        c, what = g[0], ", ".join(aspects[a] for a in g[0].aspects if a in aspects)
        return f"| {_when(diff, c.entry)} | {_channels(g)} | {_post(c)} | {what} |"

    sends_head = [_("when"), _("channels"), _("post"), _("text")]
    lines += section(_("Added"), added, sends_head, sent(False))
    lines += section(_("Removed"), removed, sends_head, sent(True))
    lines += section(_("Moved"), moved, [_("post"), _("channels"), _("was"), _("now")], moved_row)
    lines += section(_("Other changes"), other, [_("when"), _("channels"), _("post"), _("what")], other_row)
    if texts:
        changed = count(sum(len(g) for g in texts), "sends", language)
        lines += ["", "#### " + _("Text changed") + f" ({changed})"]
        for group in texts[:MAX_ROWS]:
            change = group[0]
            where = _("{post} on {channels}, {when}").format(
                post=_post(change), channels=_channels(group), when=_when(diff, change.entry)
            )
            lines += ["", where, ""]
            lines += _fence(_line_diff(_text(change.old), _text(change.new)))
        lines += more(len(texts))
    lines += _signoff_section(groups, language)
    status = {"new": _("new"), "fixed": _("fixed"), "still": _("still there")}
    problems = _problem_lines(
        diff,
        lambda label, p: (
            f"- {status[label]} **{severity.get(p.severity.value, p.severity.value)}** "
            f"`{p.path}:{p.line}` {_plain(p.said_in(language))}"
        ),
    )
    if problems:
        lines += ["", f"#### {L['problems']}", "", *problems[: MAX_ROWS * 2]]
    return "\n".join(lines) + "\n"


def _signoff_section(groups: list[list[Change]], language: str) -> list[str]:
    """The posts this change adds or changes what goes out of, that need sign-off: who must approve them
    (where it stands is in the ledger, which a pull request's CI does not have: said once)."""
    _ = translator(language).gettext
    rows = []
    for group in groups:
        change = group[0]
        if (
            change.new is None
            or not change.new.draft.signoff
            or not ({"text", "media"} & set(change.aspects) or change.kind == "added")
        ):
            continue
        line = f"- {_post(change)} ({_channels(group)}): {_plain(needs(change.new.draft.signoff).said_in(language))}"
        if change.kind == "changed":
            line += "; " + _plain(_("what goes out changes, so an approval of the old text no longer counts"))
        rows.append(line)
    if not rows:
        return []
    return ["", "#### " + _("Sign-off"), "", *rows[:MAX_ROWS], "", "> ⚑ " + _plain(in_the_ledger(language))]


def _record(diff: Diff, entry: Entry | None, old: bool) -> dict[str, Any] | None:
    if entry is None:
        return None
    plan = (diff.base if old else diff.head).plan
    assert plan is not None
    return entry_record(entry, plan.campaign.settings.timezone)


def _problems(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    return [{"path": p.path, "line": p.line, "severity": p.severity.value, "message": p.message} for p in problems]


def as_json(diff: Diff) -> str:
    """For machines: both sides, the counts, every change with its old and new send (preview's JSON shape)."""

    def side(s: Side) -> dict[str, Any]:
        problems = s.plan.problems if s.plan else ()
        errors = sum(p.is_error for p in problems)
        return {
            "revision": None if s.revision == WORKING_TREE else s.revision,
            "commit": s.commit,
            "campaign": s.plan is not None,
            "errors": errors,
            "warnings": len(problems) - errors,
        }

    data = {
        "base": side(diff.base),
        "head": side(diff.head),
        "summary": {
            "added": diff.count("added"),
            "removed": diff.count("removed"),
            "moved": diff.count("changed", "time"),
            "text_changed": diff.count("changed", "text"),
            "changed": diff.count("changed"),
            "unchanged": diff.unchanged,
        },
        "changes": [
            {
                "change": c.kind,
                "post": c.post,
                "channel": c.channel,
                "aspects": list(c.aspects),
                "old": _record(diff, c.old, True),
                "new": _record(diff, c.new, False),
            }
            for c in diff.changes
        ],
        "problems": {
            "new": _problems(diff.new_problems),
            "fixed": _problems(diff.fixed_problems),
            "remaining_errors": _problems(diff.remaining_errors),
        },
    }
    return json.dumps(data, ensure_ascii=False, indent=2)
