"""Views of a plan for people and machines: a text timeline, JSON and Markdown.

Each shows exactly the text that will be sent, produced by the same rendering as publishing, every
problem `validate` reports for what it shows, and the posts that cannot be placed on the calendar.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, tzinfo
from itertools import groupby
from pathlib import Path
from typing import Any, Literal

from babel.dates import format_date

from scheduler.content.fields import MediaRef
from scheduler.content.plan import Entry, Plan, Unplaced
from scheduler.content.problems import Problem, causes_first
from scheduler.media.renditions import shown
from scheduler.posts import MediaItem, MediaRules
from scheduler.signoff.state import State as SignoffState
from scheduler.signoff.state import in_the_ledger, unknown
from scheduler.views.labels import clock, count, labels
from scheduler.words import translator

UNPLACED = "cannot be placed on the calendar"


Signoffs = Mapping[str, SignoffState] | None  # post → where its sign-off stands; None: no ledger could be read


def entry_record(entry: Entry, zone: tzinfo, signoffs: Signoffs = None) -> dict[str, Any]:
    """The JSON shape of one planned post (documented in docs/review.md)."""
    state = signoff_state(entry, signoffs)
    return {
        "due": entry.due.astimezone(zone).isoformat(),
        "channel": entry.channel.name,
        "type": entry.channel.type,
        "post": entry.draft.id,
        "path": entry.draft.path,
        "title": entry.draft.title,
        "draft": entry.draft.draft,
        "text": entry.post.text if entry.post else None,
        "parts": list(entry.post.parts) if entry.post else [],  # a thread's posts in order; [] for one post
        "media": [_media_record(ref) for ref in entry.draft.media],
        "length": entry.length,
        "limit": entry.limit,
        "problems": [str(p) for p in entry.problems],
        # who must approve its exact text first (needs ["team"]: any operator) and where that stands; null: nobody
        "signoff": None if state is None else state.record(),
    }


def _media_record(ref: MediaRef) -> dict[str, Any]:
    """{path, alt}; a video's also its captions ({language: file}) or why it has none."""
    found: dict[str, Any] = {"path": ref.path, "alt": ref.alt}
    if ref.is_video:
        found["captions"] = dict(ref.captions) if ref.no_captions is None else {"none": ref.no_captions}
    return found


def signoff_state(entry: Entry, signoffs: Signoffs) -> SignoffState | None:
    """Where `entry`'s post's sign-off stands, as the ledger says (`signoffs`), "unknown" where none could be
    read or it has no send of the post yet; None if the post needs no sign-off."""
    names = entry.draft.signoff
    if not names:
        return None
    found = None if signoffs is None else signoffs.get(entry.draft.id)
    return found if found is not None and found.needs == tuple(names) else unknown(names)


def signoff_line(entry: Entry, signoffs: Signoffs, zone: tzinfo, language: str = "en") -> str | None:
    """`needs sign-off by verteller` and, where a ledger told it, where that stands ("waiting for sign-off by
    verteller since ..."), in `language`; None if it needs none."""
    state = signoff_state(entry, signoffs)
    if state is None:
        return None
    needs = unknown(state.needs).said().said_in(language)
    return needs if not state.known else f"{needs}: {state.said(zone, entry.draft.id).said_in(language)}"


def card_signoff(entry: Entry, signoffs: Signoffs | Literal[False], zone: tzinfo, language: str) -> tuple[str, ...]:
    """An HTML card's (state, words in `language`) of where its post's sign-off stands; () where it needs none,
    or `signoffs` is False (not shown)."""
    state = None if signoffs is False else signoff_state(entry, signoffs)
    if signoffs is False or state is None:
        return ()
    return state.state, signoff_line(entry, signoffs, zone, language) or ""


def signoff_note(entries: Iterable[Entry], signoffs: Signoffs, language: str) -> str:
    """Where a post needs sign-off and no ledger says where it stands: that the state is kept in the ledger."""
    return in_the_ledger(language) if signoff_unknown(entries, signoffs) else ""


def signoff_unknown(entries: Iterable[Entry], signoffs: Signoffs) -> bool:
    """Whether a post of `entries` needs sign-off and no ledger says where it stands (then said once)."""
    return any(e.draft.signoff and not state.known for e in entries if (state := signoff_state(e, signoffs)))


def problem_record(problem: Problem) -> dict[str, Any]:
    """The JSON shape of one problem, as `campaign validate --format json` prints it."""
    return {"path": problem.path, "line": problem.line, "severity": problem.severity.value, "message": problem.message}


def unplaced_record(post: Unplaced) -> dict[str, Any]:
    """The JSON shape of a post that is not on the calendar (documented in docs/review.md)."""
    return {
        "post": post.post,
        "path": post.path,
        "title": post.title,
        "draft": post.draft,
        "problems": [str(p) for p in post.problems],
    }


def _tally(problems: list[Problem]) -> str:
    """Counts as words, "2 errors, 1 warning": the same counts as `campaign validate` gives for the same problems."""
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    return f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}"


def as_json(
    plan: Plan,
    entries: Iterable[Entry],
    problems: Iterable[Problem] | None = None,
    unplaced: Iterable[Unplaced] | None = None,
    signoffs: Signoffs = None,
) -> str:
    """An object: the counts, every problem, the posts not on the calendar, and the sends sorted by
    due, channel and post. `problems` and `unplaced` default to all of the plan's; `signoffs`: where each
    post's sign-off stands, as a ledger says (None: none could be read; each send's state is "unknown")."""
    zone = plan.campaign.settings.timezone
    problems = list(plan.problems if problems is None else problems)
    errors = sum(p.is_error for p in problems)
    head = {
        "campaign": plan.campaign.settings.name,
        "timezone": str(zone),
        "errors": errors,
        "warnings": len(problems) - errors,
    }

    def array(records: Iterable[dict[str, Any]]) -> str:
        # One object per line: readable in a diff, and json's C encoder (indent= forces the slow one).
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
        return "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"

    parts = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in head.items()]
    parts.append('"problems": ' + array(problem_record(p) for p in problems))
    parts.append('"unplaced": ' + array(unplaced_record(u) for u in (plan.unplaced if unplaced is None else unplaced)))
    entries = list(entries)
    if signoff_unknown(entries, signoffs):
        parts.append(f'"signoff_note": {json.dumps(in_the_ledger())}')
    parts.append('"sends": ' + array(entry_record(e, zone, signoffs) for e in entries))
    return "{\n" + ",\n".join(parts) + "\n}"


def _days(plan: Plan, entries: Iterable[Entry]) -> Iterator[tuple[str, list[Entry]]]:
    zone, language = plan.campaign.settings.timezone, plan.campaign.settings.language
    for day, group in groupby(entries, key=lambda e: e.due.astimezone(zone).date()):
        yield str(format_date(day, "EEEE d MMMM y", locale=language)), list(group)


def _local_time(entry: Entry, zone: tzinfo) -> str:
    local: datetime = entry.due.astimezone(zone)
    return local.strftime("%H:%M")


def as_text(
    plan: Plan,
    entries: list[Entry],
    problems: Iterable[Problem] | None = None,
    unplaced: Iterable[Unplaced] | None = None,
    color: bool = False,
    signoffs: Signoffs = None,
) -> str:
    """Every problem, the posts not on the calendar, then a timeline grouped by local day: time,
    channel, post, length against limit, then the text. `problems`, `unplaced`, `signoffs`: as in as_json."""
    import click

    def style(text: str, **kwargs: Any) -> str:
        return click.style(text, **kwargs) if color else text

    def problem_line(problem: Problem) -> str:
        return style(
            f"         ! {problem.severity.value}: {problem.message}", fg="red" if problem.is_error else "yellow"
        )

    zone = plan.campaign.settings.timezone
    problems = list(plan.problems if problems is None else problems)
    unplaced = list(plan.unplaced if unplaced is None else unplaced)
    lines = [
        style(f"{plan.campaign.settings.name} · {len(entries)} sends · times in {zone}", bold=True),
        _tally(problems),
    ]
    if signoff_unknown(entries, signoffs):
        lines.append(style(f"⚑ {in_the_ledger()}", fg="magenta"))
    if problems:
        lines += ["", style("problems", bold=True, underline=True)]
        lines += [style(f"  {p}", fg="red" if p.is_error else "yellow") for p in causes_first(problems)]
    if unplaced:
        lines += ["", style(UNPLACED, bold=True, underline=True)]
        for post in unplaced:
            lines.append(f"  {post.post}{' [draft]' if post.draft else ''}  ({post.path})")
            lines += [problem_line(p) for p in post.problems]
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
            if needs := signoff_line(entry, signoffs, zone):
                lines.append(style(f"         ⚑ {needs}", fg="magenta"))
            if entry.post:
                total = len(entry.post.parts)
                for index, part in enumerate(entry.post.thread, 1):
                    if total:
                        lines.append(f"         ├ thread part {index}/{total}")
                    lines += [f"         │ {line}" for line in part.splitlines()]
                    if index == 1:  # a thread's images go on its first part
                        rules = entry.channel.limits.media  # a video has no rendition: _goes_out_as says ""
                        lines += [
                            f"         │ [{item.kind}] {item.path.name}{_as_sent(item, rules)}: {item.alt}"
                            for item in entry.post.media
                        ]
            lines += [problem_line(p) for p in entry.problems]
    return "\n".join(lines)


def _as_sent(item: MediaItem, rules: MediaRules) -> str:
    """An image's rendition for the network; a video's length and its captions' languages."""
    if not item.is_video:
        return _goes_out_as(item.path, rules)
    length = clock(item.video.seconds) if item.video is not None else "?"
    captions = ", ".join(c.language for c in item.captions) or f"none: {item.no_captions}"
    return f" ({length}, captions: {captions})"


def _goes_out_as(path: Path, rules: MediaRules) -> str:
    """What of an image goes out on this channel: its rendition's size and dimensions."""
    made = shown(path, rules)
    return f" ({made.describe()})" if made else ""


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def md_plain(text: str) -> str:
    """Our own messages (which may quote a file, or a note a person wrote) as inert Markdown: no markup,
    HTML or mentions."""
    text = re.sub(r"([\\`*_{}\[\]()#+!|~>])", r"\\\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("@", "@\u200b")


def md_signoff(entry: Entry, signoffs: Signoffs, zone: tzinfo, language: str) -> str:
    """`<br>⚑ ...` where `entry`'s post needs sign-off: where it stands, in `language`, inert; "" if it needs none."""
    line = signoff_line(entry, signoffs, zone, language)
    return "" if line is None else "<br>⚑ " + md_plain(" ".join(line.split()))  # a note on one line: a table cell


def as_markdown(
    plan: Plan,
    entries: list[Entry],
    problems: Iterable[Problem] | None = None,
    unplaced: Iterable[Unplaced] | None = None,
    signoffs: Signoffs = None,
) -> str:
    """A summary for a CI job page or a pull-request comment, in the campaign's language, the problems'
    text too (`validate` gives it in English). `problems`, `unplaced`, `signoffs`: as in as_json."""
    zone, language = plan.campaign.settings.timezone, plan.campaign.settings.language
    _, L = translator(language).gettext, labels(language)
    problems = list(plan.problems if problems is None else problems)
    unplaced = list(plan.unplaced if unplaced is None else unplaced)
    errors = sum(p.is_error for p in problems)
    posts = len({e.draft.id for e in entries})
    lines = [
        f"## {plan.campaign.settings.name}: {count(len(entries), 'sends', language)} · "
        f"{count(posts, 'posts', language)}",
        "",
        f"{L['times_in']} {zone}. "
        f"{count(errors, 'errors', language)}, {count(len(problems) - errors, 'warnings', language)}.",
    ]
    if signoff_unknown(entries, signoffs):
        lines += ["", "> ⚑ " + md_plain(in_the_ledger(language))]
    severity = {"error": L["error"], "warning": L["warning"]}
    if problems:
        lines += ["", f"### {L['problems']}", ""] + [
            f"- `{p.path}:{p.line}` **{severity.get(p.severity.value, p.severity.value)}**: "
            + _md_cell(p.said_in(language))
            for p in causes_first(problems)
        ]
    if unplaced:
        head = "| " + " | ".join([_("Post"), _("File"), L["problems"]]) + " |"
        lines += ["", f"### {L['unplaced']}", "", head, "|---|---|---|"]
        for post in unplaced:
            found = "<br>".join(
                f"**{severity.get(p.severity.value, p.severity.value)}** "
                + _("line {line}").format(line=p.line)
                + f": {_md_cell(p.said_in(language))}"
                for p in post.problems
            )
            flag = f" ({L['draft']})" if post.draft else ""
            lines.append(f"| {_md_post(post.title, post.post)}{flag} | `{post.path}` | {found or '—'} |")
    head = "| " + " | ".join([_("Time"), _("Channel"), _("Post"), _("Length"), _("Text")]) + " |"
    for day, group in _days(plan, entries):
        lines += ["", f"### {day}", "", head, "|---|---|---|---|---|"]
        for entry in group:
            size = f"{entry.length}/{entry.limit or '∞'}" if entry.length is not None else "—"
            if entry.length is not None and entry.limit is not None and entry.length > entry.limit:
                size = f"**{size}** ⚠️"
            text = "_" + _("not rendered") + "_"
            if entry.post and entry.post.parts:
                total = len(entry.post.parts)
                text = "<br><br>".join(
                    f"**{L['thread']} {i}/{total}**<br>{_md_cell(part)}" for i, part in enumerate(entry.post.parts, 1)
                )
            elif entry.post:
                text = _md_cell(entry.post.text)
            if entry.post and entry.post.media:  # images go with the (first part of the) post
                text += "".join(f"<br>{_md_medium(item, language)}" for item in entry.post.media)
            flag = f" ({L['draft']})" if entry.draft.draft else ""
            lines.append(
                f"| {_local_time(entry, zone)} | {entry.channel.name} | {_md_post(entry.draft.title, entry.draft.id)}"
                f"{flag}{md_signoff(entry, signoffs, zone, language)} | {size} | {text} |"
            )
    return "\n".join(lines) + "\n"


def _md_post(title: str | None, post: str) -> str:
    """A post as people know it: its title and its id (the file's name), or its id alone."""
    return f"{_md_cell(title)} (`{post}`)" if title else f"`{post}`"


def _md_medium(item: MediaItem, language: str) -> str:
    """An image with its alt text; a video with its length, alt text and captions (or why it has none)."""
    if not item.is_video:
        return _md_image(item.path.name, item.alt, language)
    _ = translator(language).gettext
    length = clock(item.video.seconds) if item.video is not None else "?"
    line = "🎞 " + _("video {name} ({length}), alt text: {alt}").format(
        name=f"`{item.path.name}`", length=length, alt=_md_cell(item.alt)
    )
    if item.captions:
        return line + "; " + _("captions: {languages}").format(languages=", ".join(c.language for c in item.captions))
    return line + "; " + _("no captions: {reason}").format(reason=_md_cell(item.no_captions or ""))


def _md_image(name: str, alt: str, language: str) -> str:
    _ = translator(language).gettext
    if alt.strip():
        return "🖼 " + _("image {name}, alt text: {alt}").format(name=f"`{name}`", alt=_md_cell(alt))
    return "🖼 " + _("image {name}, without alt text").format(name=f"`{name}`")
