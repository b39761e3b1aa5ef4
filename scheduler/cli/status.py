"""The read-only ledger commands: status (what is next, what went out, what needs a person) and history."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import click

from scheduler.cli.app import Context, campaign_zone, main, open_ledger, pass_context
from scheduler.cli.publishing import _pause_text, _unplanned
from scheduler.content.problems import plural
from scheduler.publish.states import State
from scheduler.terminal import in_json, shown
from scheduler.times import local_time

if TYPE_CHECKING:
    from scheduler.publish.ledger import Delivery, Ledger


def _row_record(row: Delivery, zone: Any) -> dict[str, Any]:
    return {
        "post": row.post,
        "channel": row.channel,
        "state": row.state,
        "path": row.path,
        "due": row.due.astimezone(zone).isoformat(),
        "attempts": row.attempts,
        "reason": row.reason,
        "url": row.receipt_url,
        "published_at": row.published_at.isoformat() if row.published_at else None,
        "changed_after_publishing": row.changed_after_publishing,
    }


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--limit", default=10, show_default=True, help="Rows per section in text output.")
@pass_context
def status(obj: Context, fmt: str, limit: int) -> None:
    """What is next, what went out, and what needs a person: failed, in doubt, missed, held, paused."""
    from scheduler.content import watchlist
    from scheduler.publish import holds
    from scheduler.publish.overview import paused_by

    plan = obj.plan(parallel=True)  # before the ledger opens: no connection crosses a fork
    zone = plan.campaign.settings.timezone
    broken = [str(p) for p in holds.read(plan).settings_problems()]
    watch = [str(p) for p in plan.problems if p.path == watchlist.FILE]  # missing, empty or broken: said once
    unplanned = _unplanned(plan)
    ledger = open_ledger(obj.root)
    rows = ledger.views.rows()
    in_force, by = ledger.operators.pauses(), paused_by(ledger)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state.value] = counts.get(row.state.value, 0) + 1
    open_replies = ledger.replies.stored_replies(unhandled=True)
    watched = sum(1 for r in open_replies if r.watch)
    if fmt == "json":
        pauses = [
            {"scope": p.scope, "reason": p.reason, "since": p.since.astimezone(zone).isoformat(), "by": by.get(p.scope)}
            for p in in_force
        ]
        click.echo(
            in_json(
                json.dumps(
                    {
                        "broken_files": broken,
                        "watch_list_problems": watch,
                        "cannot_be_planned": [
                            {
                                "post": u.key,
                                "path": u.path,
                                "problems": [str(p) for p in u.problems],
                                "channels": list(u.channels),
                                "held_at": u.due.astimezone(zone).isoformat() if u.due else None,
                            }
                            for u in unplanned
                        ],
                        "paused": pauses,
                        "counts": counts,
                        "replies": {"unhandled": len(open_replies), "watch_list": watched},
                        "deliveries": [_row_record(r, zone) for r in rows],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
        )
        return
    if broken:
        click.echo(f"broken settings ({len(broken)}): the sends they touch are held, nothing is cancelled")
        for line in broken:
            click.echo(f"  {line}")
    for line in watch:
        click.echo(f"watch list: {line}")
    if unplanned:
        click.echo(f"cannot be planned ({len(unplanned)}): not sent; fix the file and it goes out at its time")
        for u in unplanned:
            when = f"held at {local_time(u.due, zone)}" if u.due and u.channels else "no time or channel read"
            click.echo(f"  {u.path} ({when})")
            for problem in u.problems:
                click.echo(f"    {shown(str(problem))}")
    click.echo("paused: " + ("; ".join(_pause_text(p, zone, by.get(p.scope)) for p in in_force) or "no"))
    click.echo("counts: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing planned yet"))
    if open_replies:
        click.echo(
            f"replies not handled: {len(open_replies)}, {watched} matching the watch list "
            "(`campaign replies --unhandled`)"
        )
    published = sorted(
        (r for r in rows if r.state == State.PUBLISHED), key=lambda r: r.published_at or r.due, reverse=True
    )
    sections = [
        ("in doubt", [r for r in rows if r.state == State.IN_DOUBT]),
        ("failed", [r for r in rows if r.state == State.FAILED]),
        ("missed", [r for r in rows if r.state == State.MISSED]),
        ("held", [r for r in rows if r.state == State.HELD]),
        ("changed after publishing", [r for r in rows if r.changed_after_publishing]),
        ("retrying", [r for r in rows if r.state == State.RETRY]),
        ("next", [r for r in rows if r.state == State.PENDING]),
        ("published", published),
    ]
    for title, items in sections:
        if not items:
            continue
        click.echo(f"\n{title} ({len(items)}):")
        if title == "held":
            _say_held(items, zone, limit, _held_words(ledger, items, zone, plan.campaign.settings.language))
            continue
        for row in items[:limit]:
            extra = row.receipt_url if row.state == State.PUBLISHED else row.reason  # a network's words too
            click.echo(f"  {local_time(row.due, zone)}  {row.channel:<12} {row.post}  {shown(extra or '')}".rstrip())
        if len(items) > limit:
            click.echo(f"  … and {len(items) - limit} more (--limit {len(items)} shows them all)")


def _held_words(ledger: Ledger, rows: list[Delivery], zone: tzinfo, language: str) -> dict[str, str]:
    """A held post → why, in the campaign's language, where it is held for sign-off. Other holds' reasons
    are recorded in it already; a sign-off hold's is recorded in English (the ledger finds it by how it
    begins), so its words are made again from where the post's sign-off stands."""
    from scheduler.publish.holds import is_signoff_hold

    words = {}
    for row in rows:
        if is_signoff_hold(row.reason) and row.post not in words:
            said = ledger.signoffs.held_said(row.post, zone, ledger.clock())
            if said is not None:
                words[row.post] = said.said_in(language)
    return words


def _say_held(rows: list[Delivery], zone: tzinfo, limit: int, signoffs: dict[str, str] | None = None) -> None:
    """Held sends grouped by their reason: one broken file that holds 60 sends is one cause, said once.
    `signoffs`: a post held for sign-off → why, in the campaign's language (_held_words)."""
    from scheduler.publish.holds import is_signoff_hold

    by_reason: dict[str, list[Delivery]] = {}
    for row in rows:
        reason = (signoffs or {}).get(row.post) if is_signoff_hold(row.reason) else None
        by_reason.setdefault(reason or row.reason or "held", []).append(row)
    for reason, group in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[1][0].due)):
        if len(group) == 1:
            row = group[0]
            click.echo(f"  {local_time(row.due, zone)}  {row.channel:<12} {row.post}  {shown(reason)}")
            continue
        click.echo(f"  {shown(reason)}: {plural(len(group), 'send')}")
        for row in group[:limit]:
            click.echo(f"    {local_time(row.due, zone)}  {row.channel:<12} {row.post}")
        if len(group) > limit:
            click.echo(f"    … and {len(group) - limit} more (--limit {len(group)} shows them all)")


@main.command()
@click.argument("post", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N entries (default: all).")
@pass_context
def history(obj: Context, post: str | None, fmt: str, limit: int | None) -> None:
    """Every attempt (time, key, outcome, the network's answer) and what people did by hand.

    With POST: its attempts, retries and resolves, and each part of a thread; without: everything,
    pauses and resumes too.
    """
    zone = campaign_zone(obj)
    ledger = open_ledger(obj.root)
    entries: list[tuple[datetime, str, dict[str, Any]]] = [
        # a detail is the network's answer, an action's reason may come from the dashboard: shown, not obeyed
        (
            a.started_at,
            f"{a.channel:<12} {a.post}  {a.outcome:<11} key={a.key}  {shown(a.detail or '')}",
            {"kind": "attempt", "channel": a.channel, "post": a.post, "outcome": a.outcome.value, "key": a.key}
            | {"detail": a.detail},
        )
        for a in ledger.views.history(post)
    ]
    entries += [
        (
            a.at,
            f"{'by hand':<12} {shown(a.summary())}",
            {"kind": a.action, "channel": a.channel, "post": a.post, "by": f"{a.who}@{a.host}", "reason": a.reason}
            | {"summary": a.summary()},
        )
        for a in ledger.operators.actions(post)
    ]
    if post is not None:  # its sign-off: every link, approval, decline and void (`campaign signoff history`)
        from scheduler.cli.signoff import events

        entries += [
            (at, f"{'sign-off':<12} {line}", {"kind": "signoff", "post": post, "what": line})
            for at, line in events(ledger, post, zone)
        ]
    for row in ledger.views.rows(post=post) if post is not None else []:
        parts = ledger.threads.thread_parts(row.id)
        for part in parts:  # a thread: each part, where it is (a refused or interrupted one says so)
            where = shown(part.url) if part.url else ("out" if part.published_at else "not settled")
            entries.append(
                (
                    part.started_at,
                    f"{row.channel:<12} {row.post}  part {part.part}  key={part.key}  {where}",
                    {"kind": "part", "channel": row.channel, "post": row.post, "part": part.part, "key": part.key}
                    | {"url": part.url, "published": part.published_at is not None},
                )
            )
    entries.sort(key=lambda entry: entry[0])
    if limit is not None:
        entries = entries[-limit:]
    if fmt == "json":
        records = [{"at": at.astimezone(zone).isoformat(), **record} for at, _, record in entries]
        click.echo(in_json(json.dumps(records, ensure_ascii=False, indent=2)))
        return
    for at, line, _ in entries:
        click.echo(f"{local_time(at, zone, seconds=True)}  {line}".rstrip())
