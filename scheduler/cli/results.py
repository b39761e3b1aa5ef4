"""The commands after publishing: collect (counts and replies), report (the retrospective), replies."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scheduler.cli.app import (
    WHEN_FORMATS,
    Context,
    _bound,
    campaign_zone,
    current_actor,
    main,
    make_publisher,
    open_ledger,
    pass_context,
    setup_logging,
    with_logging,
)
from scheduler.content.problems import plural
from scheduler.terminal import in_json, shown
from scheduler.times import local_time

if TYPE_CHECKING:
    from scheduler.publish.ledger import StoredReply
    from scheduler.results.collector import Collector


def _collector(obj: Context) -> Collector:
    from scheduler.errors import ConfigError
    from scheduler.publish.publisher import Channels
    from scheduler.results.collector import Collector, Config

    ledger = open_ledger(obj.root)
    campaign, publisher = make_publisher(obj, ledger)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # Adapters of its own: collecting never shares a connection or a lock with publishing.
    return Collector(ledger, Channels(campaign), publisher.alerter, publisher.clock, obj.root, config)


@main.command()
@click.option("--once", is_flag=True, help="Take what is due now, then exit (default: keep collecting).")
@with_logging
@pass_context
def collect(obj: Context, once: bool, log_format: str | None, log_level: str | None) -> None:
    """Take the public counts and read the replies that are due, as the daemon does (for a campaign
    whose daemon has stopped). Each count is taken once per age; nothing is fetched twice."""
    setup_logging(log_level, log_format, campaign_zone(obj))
    collector = _collector(obj)
    _say_watch_list(obj.root)
    if once:
        while True:
            done = collector.collect()
            click.echo(f"collected: {done.summary()}")
            if not done.more:
                break
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("collecting counts and replies; stop with Ctrl-C", err=True)
    collector.run(stop)


def _say_watch_list(root: Path) -> None:
    """Once, at the start: a missing or empty watch list (the collector does not repeat it at each read)."""
    from scheduler.content import campaign as campaign_file
    from scheduler.content import watchlist

    for problem in campaign_file.load(root)[1]:
        if problem.path == watchlist.FILE:
            click.echo(str(problem), err=True)


_SUFFIXES = {".html": "html", ".md": "markdown", ".csv": "csv", ".json": "json"}


@main.command()
@click.option("--from", "start", metavar="WHEN", help=f"Sends published from: {WHEN_FORMATS}.")
@click.option("--to", "end", metavar="WHEN", help=f"Sends published until (a date includes its day): {WHEN_FORMATS}.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(_SUFFIXES.values())),
    help="Default: from -o FILE's ending (.html, .md, .csv, .json), else markdown.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE (default: stdout)."
)
@pass_context
def report(obj: Context, start: str | None, end: str | None, fmt: str | None, output: Path | None) -> None:
    """The retrospective: per day, channel, series and hashtag, the top posts, every send's counts
    with the age after publishing they were measured at."""
    if fmt is None:
        fmt = _SUFFIXES.get(output.suffix.casefold() if output else "", "markdown")
    from scheduler.content import campaign as campaign_file
    from scheduler.errors import ConfigError
    from scheduler.results import formats
    from scheduler.results.collector import Config
    from scheduler.results.report import build

    campaign, _ = campaign_file.load(obj.root)
    zone = campaign.settings.timezone
    try:
        ages = Config.from_env().ages
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    ledger = open_ledger(obj.root)
    result = build(ledger, campaign, ages, ledger.clock(), _bound(start, zone, False), _bound(end, zone, True))
    ledger.close()
    render = {"html": formats.to_html, "markdown": formats.to_markdown, "csv": formats.to_csv, "json": formats.to_json}
    text = render[fmt](result)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8", newline="")
        click.echo(f"wrote {output} ({plural(len(result.sends), 'send')})", err=True)


@main.group(invoke_without_command=True)
@click.option("--unhandled", is_flag=True, help="Only those no one has handled yet.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def replies(ctx: click.Context, unhandled: bool, fmt: str) -> None:
    """The replies to the campaign's posts (network, post, author, time, text, link), oldest first.

    Nothing is ever answered automatically: answer on the network, then `campaign replies handle ID`."""
    if ctx.invoked_subcommand is not None:
        return
    obj: Context = ctx.find_object(Context)  # type: ignore[assignment]
    zone = campaign_zone(obj)
    ledger = open_ledger(obj.root)
    found = ledger.replies.stored_replies(unhandled=unhandled)
    ledger.close()
    if fmt == "json":
        click.echo(in_json(json.dumps([_reply_record(r, zone) for r in found], ensure_ascii=False, indent=2)))
        return
    if not found:
        click.echo("no unhandled replies" if unhandled else "no replies")
        return
    for r in found:  # the author, text and link are the public's: shown, never obeyed (scheduler.terminal)
        flag = f"  WATCH LIST: {r.watch!r}" if r.watch else ""
        state = f"handled by {r.handled_by} at {local_time(r.handled_at, zone)}" if r.handled_at else "not handled"
        click.echo(
            f"#{r.id} {local_time(r.at, zone)}  {r.network} {r.channel}  {r.post}  {shown(r.author)}  ({state}){flag}"
        )
        click.echo(f"    {shown(r.url) if r.url else 'no link'}")
        for line in shown(r.text, lines=True).splitlines() or [""]:
            click.echo(f"    > {line}")
        if r.note:
            click.echo(f"    note: {shown(r.note)}")
    click.echo(plural(len(found), "reply", "replies"), err=True)


def _reply_record(r: StoredReply, zone: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "network": r.network,
        "channel": r.channel,
        "post": r.post,
        "author": r.author,
        "at": r.at.astimezone(zone).isoformat(timespec="seconds"),
        "text": r.text,
        "url": r.url,
        "watch": r.watch,
        "handled_at": r.handled_at.astimezone(zone).isoformat(timespec="seconds") if r.handled_at else None,
        "handled_by": r.handled_by,
        "note": r.note,
    }


@replies.command("handle")
@click.argument("reply_id", metavar="ID", type=int)
@click.option("--note", help="What was done (e.g. answered with the helplines): kept with the reply.")
@pass_context
def replies_handle(obj: Context, reply_id: int, note: str | None) -> None:
    """Mark reply ID as handled, recording who and when."""
    zone = campaign_zone(obj)
    ledger = open_ledger(obj.root)
    by = current_actor()
    now = ledger.clock()
    done = ledger.replies.handle_reply(reply_id, by, now, note)
    ledger.close()
    if done is None:
        raise click.ClickException(f"there is no reply #{reply_id}; `campaign replies` lists them")
    if done.handled_at != now:
        click.echo(f"#{reply_id} was already handled by {done.handled_by} at {local_time(done.handled_at, zone)}")
        return
    click.echo(f"#{reply_id} handled by {by} at {local_time(now, zone)}")


@replies.command("purge")
@click.option("--older-than", "older", required=True, metavar="DURATION", help="e.g. 90d, 90 days, 12 weeks.")
@pass_context
def replies_purge(obj: Context, older: str) -> None:
    """Erase every reply written longer ago than DURATION (handled or not) and the alerts about them:
    replies are personal data (docs/results.md, "Personal data and retention")."""
    from scheduler import settings

    text = older.strip()
    short = {"d": "days", "w": "weeks", "h": "hours"}
    if text[:-1].isdigit() and text[-1:] in short:
        text = f"{text[:-1]} {short[text[-1]]}"
    try:
        age = settings.parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    ledger = open_ledger(obj.root)
    purged = ledger.replies.purge_replies(ledger.clock() - age)
    ledger.close()
    tail = f", {purged.unhandled} of them never handled" if purged.unhandled else ""
    click.echo(f"deleted {plural(purged.replies, 'reply', 'replies')} written more than {older.strip()} ago{tail}")
    if purged.alerts:
        click.echo(f"deleted {plural(purged.alerts, 'watch-list alert')} about them")
    if not purged.log_emptied:
        click.echo(
            "the database's write-ahead log (campaign.db-wal) may still hold them: a reader kept it busy; "
            "run the purge again in a moment, or stop the daemon first",
            err=True,
        )
