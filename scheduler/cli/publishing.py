"""The commands that use the ledger: run, rehearse, status, pause, resume, retry, resolve, history, db, channels."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scheduler.cli.main import Context, _bound, main, pass_context

if TYPE_CHECKING:
    from scheduler.publish.ledger import Ledger
    from scheduler.publish.publisher import Publisher


def _open_ledger(root: Path, url: str | None = None) -> Ledger:
    """The ledger of DATABASE_URL; an embedded SQLite file is migrated on the spot."""
    from scheduler import settings
    from scheduler.errors import LedgerError
    from scheduler.publish.ledger import Ledger, database_url

    try:
        ledger = Ledger(database_url(url or settings.get("DATABASE_URL") or None, root))
        if ledger.is_sqlite:
            ledger.upgrade()
        ledger.check_schema()
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None
    return ledger


def _publisher(
    obj: Context, ledger: Ledger, dry_run_dir: Path | None = None, worker: str | None = None
) -> tuple[Any, Publisher]:
    from scheduler import settings
    from scheduler.content import campaign as campaign_file
    from scheduler.errors import CampaignError
    from scheduler.publish.alerts import Alerter
    from scheduler.publish.publisher import Channels, Policy, Publisher
    from scheduler.secrets import resolve

    campaign, _ = campaign_file.load(obj.root)
    webhook = campaign.alerts.get("webhook") or settings.get("CAMPAIGN_ALERT_WEBHOOK")
    try:
        webhook = resolve(webhook) if webhook and dry_run_dir is None else None
        policy = Policy.from_env()
    except (CampaignError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    publisher = Publisher(ledger, Channels(campaign, dry_run_dir), Alerter(ledger, webhook), policy, worker)
    return campaign, publisher


def _logging(level: str | None, fmt: str | None) -> None:
    from scheduler import logs, settings

    logs.setup(level or settings.get("CAMPAIGN_LOG_LEVEL"), fmt or settings.get("CAMPAIGN_LOG_FORMAT"))


log_options = [
    click.option("--log-format", type=click.Choice(["text", "json"]), help="Log lines as text or JSON."),
    click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)),
]


def with_logging(f: Any) -> Any:
    for option in reversed(log_options):
        f = option(f)
    return f


@main.command()
@click.option("--once", is_flag=True, help="Publish what is due now, then exit.")
@click.option("--workers", type=int, help="Posts sent at the same time (default: $CAMPAIGN_WORKERS or 1).")
@with_logging
@pass_context
def run(obj: Context, once: bool, workers: int | None, log_format: str | None, log_level: str | None) -> None:
    """Publish every due post on every channel at its time (the daemon)."""
    from scheduler import settings
    from scheduler.publish.daemon import Daemon

    _logging(log_level, log_format)
    ledger = _open_ledger(obj.root)
    campaign, publisher = _publisher(obj, ledger)
    workers = workers or settings.get_int("CAMPAIGN_WORKERS")
    if once:
        from scheduler.publish import holds

        ledger.heartbeat(publisher.worker, ledger.clock())
        plan = obj.plan()
        publisher.sync(plan, ledger.clock())
        outcomes = publisher.run_once(workers=workers)
        ledger.leave(publisher.worker)
        publisher.channels.close()
        for outcome in outcomes:
            click.echo(f"{outcome.state:<10} {outcome.post} on {outcome.channel}: {outcome.url or outcome.detail}")
        click.echo(
            f"{len(outcomes)} sends handled; "
            f"next due: {_local(ledger.next_wake(held=False), campaign.settings.timezone) or 'nothing'}",
            err=True,
        )
        broken = holds.read(plan).settings_problems()
        if broken:
            # Exit non-zero: what the broken files touch is held, and a person must fix them.
            held = len(ledger.rows(states=("held",)))
            for problem in broken:
                click.echo(str(problem), err=True)
            click.echo(f"{held} sends held: fix the file(s) above; nothing was cancelled", err=True)
            sys.exit(1)
        return
    sys.exit(Daemon(obj.root, publisher, workers).run())


def _local(when: datetime | None, zone: Any) -> str | None:
    return None if when is None else when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@main.command()
@click.option("--from", "start", metavar="WHEN", help="Start of the rehearsal (default: the first post).")
@click.option("--to", "end", metavar="WHEN", help="End of the rehearsal (default: after the last post).")
@pass_context
def rehearse(obj: Context, start: str | None, end: str | None) -> None:
    """Run the real publisher over a simulated clock, with every channel replaced by dry-run."""
    from babel.dates import format_datetime

    from scheduler.publish.ledger import Ledger

    started = time.perf_counter()
    plan = obj.plan()
    zone, language = plan.campaign.settings.timezone, plan.campaign.settings.language
    for problem in plan.problems:
        click.echo(f"{problem}", err=True)
    with tempfile.TemporaryDirectory(prefix="rehearse-") as tmp:
        ledger = Ledger(f"sqlite:///{tmp}/ledger.db")
        ledger.upgrade()
        _, publisher = _publisher(obj, ledger, dry_run_dir=Path(tmp), worker="rehearsal")
        first = min((e.due for e in plan.entries), default=datetime.now(UTC))
        clock = _bound(start, zone, False) or first
        publisher.sync(plan, clock)
        stop = _bound(end, zone, True)
        counts: dict[str, int] = {}
        while True:
            wake = ledger.next_wake()
            if wake is None or (stop is not None and wake >= stop):
                break
            clock = max(clock, wake)
            for outcome in publisher.run_once(clock):
                counts[outcome.state] = counts.get(outcome.state, 0) + 1
                when = format_datetime(outcome.at.astimezone(zone), "EEE d MMM y HH:mm", locale=language)
                click.echo(
                    f"{when}  {outcome.channel:<12} {outcome.post:<40} {outcome.state}"
                    + ("" if outcome.state == "published" else f": {outcome.detail}")
                )
        ledger.close()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing due"
    click.echo(f"rehearsal: {summary} in {time.perf_counter() - started:.1f} s", err=True)


def _row_record(row: Any, zone: Any) -> dict[str, Any]:
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
    from scheduler.publish import holds

    plan = obj.plan()
    zone = plan.campaign.settings.timezone
    broken = [str(p) for p in holds.read(plan).settings_problems()]
    ledger = _open_ledger(obj.root)
    rows = ledger.rows()
    pauses = [{"scope": p.scope, "reason": p.reason, "since": p.since.isoformat()} for p in ledger.pauses()]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "broken_files": broken,
                    "paused": pauses,
                    "counts": counts,
                    "deliveries": [_row_record(r, zone) for r in rows],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if broken:
        click.echo(f"broken settings ({len(broken)}): the sends they touch are held, nothing is cancelled")
        for line in broken:
            click.echo(f"  {line}")
    click.echo(
        "paused: "
        + (
            "; ".join(
                f"{'everything' if p['scope'] == '*' else p['scope']} since {p['since'][:16]}: {p['reason']}"
                for p in pauses
            )
            or "no"
        )
    )
    click.echo("counts: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing planned yet"))
    sections = [
        ("in doubt", [r for r in rows if r.state == "in_doubt"]),
        ("failed", [r for r in rows if r.state == "failed"]),
        ("missed", [r for r in rows if r.state == "missed"]),
        ("held", [r for r in rows if r.state == "held"]),
        ("changed after publishing", [r for r in rows if r.changed_after_publishing]),
        ("retrying", [r for r in rows if r.state == "retry"]),
        ("next", [r for r in rows if r.state == "pending"][:limit]),
        ("published", sorted((r for r in rows if r.state == "published"), key=lambda r: r.published_at, reverse=True)),
    ]
    for title, items in sections:
        if not items:
            continue
        click.echo(f"\n{title} ({len(items)}):")
        for row in items[:limit]:
            when = row.due.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            extra = row.receipt_url if row.state == "published" else (row.reason or "")
            click.echo(f"  {when}  {row.channel:<12} {row.post}  {extra}".rstrip())


@main.command()
@click.option("--channel", metavar="NAME", help="Pause one channel (default: everything).")
@click.option("--reason", required=True, help="Why: shown by status and kept with the pause.")
@pass_context
def pause(obj: Context, channel: str | None, reason: str) -> None:
    """Stop sending at once, for every running daemon, until `campaign resume`."""
    ledger = _open_ledger(obj.root)
    ledger.pause(channel or "*", reason, ledger.clock())
    click.echo(f"paused {channel or 'everything'}: {reason}")


@main.command()
@click.option("--channel", metavar="NAME", help="Resume one channel (default: lift the pause of everything).")
@pass_context
def resume(obj: Context, channel: str | None) -> None:
    """Lift a pause; posts whose time passed follow their max_late."""
    ledger = _open_ledger(obj.root)
    if not ledger.resume(channel or "*"):
        raise click.ClickException(f"{channel or 'everything'} was not paused")
    click.echo(f"resumed {channel or 'everything'}")


@main.command()
@click.argument("post")
@click.option("--channel", metavar="NAME")
@pass_context
def retry(obj: Context, post: str, channel: str | None) -> None:
    """Send a failed or missed post now."""
    ledger = _open_ledger(obj.root)
    count = ledger.retry_now(post, channel, ledger.clock())
    if not count:
        raise click.ClickException(f"no failed or missed delivery of {post}" + (f" on {channel}" if channel else ""))
    click.echo(f"{count} deliveries of {post} will go out now")


@main.command()
@click.argument("post")
@click.option("--channel", metavar="NAME", required=True)
@click.option("--published", "url", metavar="URL", help="It is out: its URL.")
@click.option("--not-published", is_flag=True, help="It is not out (then `campaign retry` sends it).")
@pass_context
def resolve(obj: Context, post: str, channel: str, url: str | None, not_published: bool) -> None:
    """Settle a post in doubt after checking the account."""
    if (url is None) == (not not_published):
        raise click.UsageError("give exactly one of --published URL or --not-published")
    ledger = _open_ledger(obj.root)
    if not ledger.resolve(post, channel, url, ledger.clock()):
        raise click.ClickException(f"{post} on {channel} is not in doubt")
    click.echo(f"{post} on {channel}: " + ("published" if url else "not published"))


@main.command()
@click.argument("post", required=False)
@pass_context
def history(obj: Context, post: str | None) -> None:
    """Every attempt: time, key, outcome and the network's answer."""
    ledger = _open_ledger(obj.root)
    for row in ledger.history(post):
        click.echo(
            f"{row.started_at:%Y-%m-%d %H:%M:%S}Z  {row.channel:<12} {row.post}  {row.outcome:<11} "
            f"key={row.key}  {row.detail or ''}".rstrip()
        )


@main.group()
def db() -> None:
    """The ledger database."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj: Context) -> None:
    """Create or migrate the ledger schema (the Procfile's release step)."""
    from scheduler import settings
    from scheduler.publish.ledger import Ledger, database_url

    ledger = Ledger(database_url(settings.get("DATABASE_URL") or None, obj.root))
    ledger.upgrade()
    click.echo("ledger schema is up to date")


@main.group()
def channels() -> None:
    """The channels in channels.yml."""


@channels.command("check")
@pass_context
def channels_check(obj: Context) -> None:
    """Verify every channel's credentials and reachability, without posting."""
    from scheduler.content import campaign as campaign_file
    from scheduler.errors import CampaignError
    from scheduler.publish.publisher import Channels

    campaign, problems = campaign_file.load(obj.root)
    for problem in problems:
        click.echo(str(problem), err=True)
    made = Channels(campaign)
    failures = 0
    for name in sorted(campaign.channels):
        try:
            verdict = made.get(name).check()
            click.echo(f"ok      {name}: {verdict}")
        except CampaignError as exc:
            failures += 1
            click.echo(f"FAILED  {name}: {exc}")
    made.close()
    sys.exit(1 if failures or any(p.is_error for p in problems) else 0)
