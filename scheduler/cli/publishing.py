"""The commands that use the ledger: run, rehearse, pause, resume, retry, resolve, db, channels (status and
history, which only read it, are in scheduler.cli.status)."""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.cli.app import (
    WHEN_FORMATS,
    Context,
    _bound,
    campaign_zone,
    current_actor,
    main,
    make_publisher,
    now,
    open_ledger,
    pass_context,
    refuse_outside_campaign,
    setup_logging,
    with_logging,
)
from scheduler.content.problems import did_you_mean, plural
from scheduler.publish.states import State
from scheduler.terminal import shown
from scheduler.times import local_time

if TYPE_CHECKING:
    from scheduler.content.plan import Entry, Plan, Unplaced
    from scheduler.publish.ledger import Ledger, Pause


@main.command()
@click.option("--once", is_flag=True, help="Publish what is due now, then exit.")
@click.option("--workers", type=int, help="Posts sent at the same time (default: $CAMPAIGN_WORKERS or 1).")
@with_logging
@pass_context
def run(obj: Context, once: bool, workers: int | None, log_format: str | None, log_level: str | None) -> None:
    """Publish every due post on every channel at its time (the daemon)."""
    from scheduler import settings
    from scheduler.publish.daemon import Daemon

    setup_logging(log_level, log_format, campaign_zone(obj))
    if once:
        refuse_outside_campaign(obj.root, settings.get("DATABASE_URL") or None)
        # Planned in forked workers before the ledger is opened: no connection or thread is forked.
        plan = obj.plan(parallel=True)
        # The plan lives until the exit: out of the cycle collector's way, which would rescan its
        # hundreds of thousands of objects at each collection of the sync that follows.
        gc.freeze()
    ledger = open_ledger(obj.root)
    campaign, publisher = make_publisher(obj, ledger)
    workers = workers or settings.get_int("CAMPAIGN_WORKERS")
    if once:
        from scheduler.publish import holds

        ledger.workers.heartbeat(publisher.worker, publisher.clock.now())
        publisher.sync(plan, publisher.clock.now())
        outcomes = publisher.make_pass(workers).outcomes
        ledger.workers.leave(publisher.worker)
        publisher.channels.close()
        if publisher.links is not None:
            publisher.links.close()
        for outcome in outcomes:
            answer = shown(outcome.url or outcome.detail or "")  # the network's words: shown, never obeyed
            click.echo(f"{outcome.state:<10} {outcome.post} on {outcome.channel}: {answer}")
        click.echo(
            f"{plural(len(outcomes), 'send')} handled; "
            f"next due: {local_time(ledger.sends.next_wake(held=False), campaign.settings.timezone) or 'nothing'}",
            err=True,
        )
        broken = holds.read(plan, posts=False).settings_problems()
        if broken:
            # Exit non-zero: what the broken files touch is held, and a person must fix them.
            held = len(ledger.views.rows(states=(State.HELD,)))
            for problem in broken:
                click.echo(str(problem), err=True)
            click.echo(f"{plural(held, 'send')} held: fix the file(s) above; nothing was cancelled", err=True)
        if _say_unplanned(plan) or broken:
            sys.exit(1)
        return
    from scheduler.errors import ConfigError
    from scheduler.publish.publisher import Channels
    from scheduler.results.collector import Collector, Config

    try:
        # Counts and replies are read in a thread of their own, with adapters of their own.
        collector = Collector(
            ledger, Channels(campaign), publisher.alerter, publisher.clock, obj.root, Config.from_env().for_daemon()
        )
        the_daemon = Daemon(obj.root, publisher, workers, background=collector)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(the_daemon.run())


@main.command()
@click.option("--from", "start", metavar="WHEN", help=f"Start (default: now): {WHEN_FORMATS}.")
@click.option(
    "--to", "end", metavar="WHEN", help=f"End (default: after the last post; a date includes its day): {WHEN_FORMATS}."
)
@click.option(
    "--keep",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the rehearsal's ledger in FILE (SQLite), with made-up counts at every age, for "
    "`DATABASE_URL=sqlite:///FILE campaign report`.",
)
@pass_context
def rehearse(obj: Context, start: str | None, end: str | None, keep: Path | None) -> None:
    """Run the real publisher over a simulated clock, with every channel replaced by dry-run.

    It starts now (or at --from): sends due before that are skipped, and said so.
    """
    from dataclasses import replace

    from babel.dates import format_datetime

    from scheduler.publish.clock import SimulatedClock
    from scheduler.publish.ledger import Ledger
    from scheduler.publish.publisher import rehearse as rehearse_passes

    started = time.perf_counter()
    plan = obj.plan()
    zone, language = plan.campaign.settings.timezone, plan.campaign.settings.language
    for problem in plan.problems:
        click.echo(f"{problem}", err=True)
    click.echo("links are not checked in a rehearsal (`campaign validate --check-links` checks them now)", err=True)
    with tempfile.TemporaryDirectory(prefix="rehearse-") as tmp:
        if keep is not None:
            keep.unlink(missing_ok=True)
        ledger = Ledger(f"sqlite:///{keep.resolve() if keep else Path(tmp) / 'ledger.db'}")
        ledger.upgrade()
        begin = _bound(start, zone, False) or now()
        clock = SimulatedClock(begin)
        _, publisher = make_publisher(obj, ledger, dry_run_dir=Path(tmp), worker="rehearsal", clock=clock)
        skipped = [e for e in plan.entries if e.due < begin and not e.draft.draft]
        if skipped:
            _say_skipped(skipped, format_datetime(begin.astimezone(zone), "EEE d MMM y HH:mm", locale=language))
            plan = replace(plan, entries=tuple(e for e in plan.entries if e.due >= begin))
        publisher.sync(plan, begin)
        counts: dict[str, int] = {}
        for outcome in rehearse_passes(publisher, clock, _bound(end, zone, True)):
            counts[outcome.state] = counts.get(outcome.state, 0) + 1
            when = format_datetime(outcome.at.astimezone(zone), "EEE d MMM y HH:mm zzz", locale=language)
            click.echo(
                f"{when}  {outcome.channel:<12} {outcome.post:<40} {outcome.state}"
                + ("" if outcome.state == State.PUBLISHED else f": {outcome.detail}")
            )
        if keep is not None:
            from scheduler.results import rehearsal
            from scheduler.results.collector import Config

            taken = rehearsal.collect(
                ledger, plan.campaign, Path(tmp) / "outbox.jsonl", clock, obj.root, Config.from_env()
            )
            click.echo(f"rehearsal: {plural(taken, 'snapshot')} of made-up counts kept in {keep}", err=True)
        ledger.close()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing due"
    click.echo(f"rehearsal: {summary} in {time.perf_counter() - started:.1f} s", err=True)
    from scheduler.publish import holds

    # A post that cannot be planned, or a broken settings file, is not a rehearsal that went well.
    if _say_unplanned(plan) | bool(holds.read(plan).settings_problems()):
        sys.exit(1)


def _unplanned(plan: Plan) -> list[Unplaced]:
    """The posts that cannot be planned: never sent, so a person must hear of them (holds.cannot_be_planned)."""
    from scheduler.publish import holds

    return holds.cannot_be_planned(plan)


def _say_unplanned(plan: Plan) -> bool:
    """Say on stderr which posts cannot be planned (each problem with file and line); whether any."""
    found = _unplanned(plan)
    for unplaced in found:
        click.echo(f"{unplaced.path} cannot be planned, so it is not sent:", err=True)
        for problem in unplaced.problems:
            click.echo(f"  {problem}", err=True)
    if found:
        click.echo(f"{plural(len(found), 'post')} cannot be planned: fix the file(s) above", err=True)
    return bool(found)


def _say_skipped(skipped: list[Entry], start: str, shown: int = 5) -> None:
    names = [f"{e.draft.id} on {e.channel.name}" for e in skipped[:shown]]
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    click.echo(
        f"skipped {plural(len(skipped), 'send')} due before the rehearsal starts "
        f"({start}; --from starts it earlier): {', '.join(names)}{more}",
        err=True,
    )


def _pause_text(pause: Pause, zone: tzinfo, by: str | None = None) -> str:
    who = f" by {shown(by)}" if by else ""  # a reason may come from the dashboard's form
    return f"{pause.what} since {local_time(pause.since, zone)}{who}: {shown(pause.reason)}"


def _check_channel(obj: Context, ledger: Ledger, channel: str) -> None:
    """An unknown channel is an error that names the known ones (channels.yml's, and the ledger's)."""
    from scheduler.content import campaign as campaign_file

    known = sorted(set(campaign_file.load(obj.root)[0].channels) | {r.channel for r in ledger.views.rows()})
    if channel in known:
        return
    names = ", ".join(known) if known else "none (channels.yml names no channel)"
    raise click.BadParameter(
        f"no channel {channel!r}{did_you_mean(channel, known)} (the channels are: {names})", param_hint="--channel"
    )


@main.command()
@click.option("--channel", metavar="NAME", help="Pause one channel (default: everything).")
@click.option("--reason", required=True, help="Why: shown by status and history, kept with the pause.")
@pass_context
def pause(obj: Context, channel: str | None, reason: str) -> None:
    """Stop sending at once, for every running daemon, until `campaign resume`."""
    zone = campaign_zone(obj)
    ledger = open_ledger(obj.root)
    if channel is not None:
        _check_channel(obj, ledger, channel)
    now, actor = ledger.clock(), current_actor()
    ledger.operators.pause(channel or "*", reason, now, actor)
    click.echo(f"paused {channel or 'everything'} since {local_time(now, zone)} by {actor}: {reason}")


@main.command()
@click.option("--channel", metavar="NAME", help="Lift this channel's pause only (default: lift every pause).")
@click.option("--reason", help="Why: kept in the history.")
@pass_context
def resume(obj: Context, channel: str | None, reason: str | None) -> None:
    """Lift pauses; posts whose time passed meanwhile follow their max_late."""
    zone = campaign_zone(obj)
    ledger = open_ledger(obj.root)
    in_force = ledger.operators.pauses()
    if channel is not None and channel not in {p.scope for p in in_force}:
        _check_channel(obj, ledger, channel)
        others = "; ".join(_pause_text(p, zone) for p in in_force)
        raise click.ClickException(f"{channel} was not paused" + (f"; paused now: {others}" if others else ""))
    lifted = ledger.operators.resume(channel, ledger.clock(), current_actor(), reason)
    if not lifted:
        click.echo("nothing was paused")
        return
    for pause in lifted:
        click.echo(f"resumed {pause.what} (paused since {local_time(pause.since, zone)}: {shown(pause.reason)})")
    still = [p for p in ledger.operators.pauses() if p.scope == "*"]
    if still:
        click.echo(f"still paused: {_pause_text(still[0], zone)} (`campaign resume` lifts it)")


def _live_daemons(ledger: Ledger, now: datetime) -> list[str]:
    """The hosts of live daemons (the ledger's rule: the one that recovery follows too)."""
    from scheduler import settings

    stale = timedelta(seconds=settings.get_int("CAMPAIGN_STALE_AFTER"))
    return sorted({worker.partition(":")[0] for worker in ledger.workers.live(now, stale)})


@main.command()
@click.argument("post")
@click.option(
    "--channel", metavar="NAME", help="Only this channel (default: every channel it failed, missed or was held on)."
)
@click.option("--reason", help="Why: kept in the history.")
@pass_context
def retry(obj: Context, post: str, channel: str | None, reason: str | None) -> None:
    """Make a failed or missed post, or one the link check held, due now, for the daemon to send.

    A send the link check held goes out without a second check: a person decided."""
    from scheduler.publish.daemon import POLL

    zone = campaign_zone(obj)
    ledger = open_ledger(obj.root)
    now = ledger.clock()
    done = ledger.operators.retry_now(post, channel, now, current_actor(), reason)
    if not done:
        rows = ledger.views.rows(post=post, channel=channel)
        states = ", ".join(f"{r.state} on {r.channel}" for r in rows)
        raise click.ClickException(
            f"no failed, missed or link-held send of {post}"
            + (f" on {channel}" if channel else "")
            + (f": {states}" if states else "")
        )
    it = "it" if len(done) == 1 else "them"
    click.echo(f"{plural(len(done), 'send')} of {post} ({', '.join(done)}) due now, {local_time(now, zone)}")
    paused = [p for p in ledger.operators.pauses() if p.scope in ("*", *done)]
    hosts = _live_daemons(ledger, now)
    deadline = local_time(now + timedelta(hours=1), zone)  # retry_now gives it a max_late of one hour
    if paused:
        held = " and ".join(
            f"the pause of {p.what} (since {local_time(p.since, zone)}: {shown(p.reason)})" for p in paused
        )
        click.echo(f"but {held} holds {it}: `campaign resume` lets {it} go out")
    elif hosts:
        seconds = int(POLL.total_seconds())  # the daemon looks at the ledger at least this often
        click.echo(f"a running daemon (on {', '.join(hosts)}) sends {it} within {seconds} seconds")
    else:
        click.echo(f"no daemon is running: `campaign run --once` sends {it} now, or start `campaign run`")
    if paused or not hosts:
        they = "it counts" if len(done) == 1 else "they count"
        click.echo(f"if not sent by {deadline}, {they} as missed again")


@main.command()
@click.argument("post")
@click.option("--channel", metavar="NAME", required=True)
@click.option("--published", "url", metavar="URL", help="It is out: its URL.")
@click.option("--not-published", is_flag=True, help="It is not out (then `campaign retry` sends it).")
@click.option("--reason", help="Why, e.g. what you saw on the account: kept in the history.")
@pass_context
def resolve(obj: Context, post: str, channel: str, url: str | None, not_published: bool, reason: str | None) -> None:
    """Settle a post in doubt after checking the account."""
    if (url is None) == (not not_published):
        raise click.UsageError("give exactly one of --published URL or --not-published")
    ledger = open_ledger(obj.root)
    if not ledger.operators.resolve(post, channel, url, ledger.clock(), current_actor(), reason):
        raise click.ClickException(f"{post} on {channel} is not in doubt")
    click.echo(f"{post} on {channel}: " + (f"published ({url})" if url else "not published; `campaign retry` sends it"))


@main.group()
def db() -> None:
    """The ledger database."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj: Context) -> None:
    """Create or migrate the ledger schema (the Procfile's release step)."""
    from scheduler import settings
    from scheduler.publish.ledger import Ledger, database_url

    refuse_outside_campaign(obj.root, settings.get("DATABASE_URL") or None)
    ledger = Ledger(database_url(settings.get("DATABASE_URL") or None, obj.root))
    ledger.upgrade()
    click.echo("ledger schema is up to date")


@main.group()
def channels() -> None:
    """The channels in channels.yml."""


@channels.command("check")
@pass_context
def channels_check(obj: Context) -> None:
    """Verify every channel's credentials and reachability, without posting, and say who each posts as and
    when its token ends.

    Exit status: 0 all well; 1 a channel failed or its token expired or was revoked (or channels.yml is
    broken); 3 only warnings: a token ends within 14 days, or when it ends could not be asked."""
    from scheduler.channels.tokens import Level, dated, standing
    from scheduler.content import campaign as campaign_file
    from scheduler.errors import CampaignError
    from scheduler.publish.publisher import Channels

    campaign, problems = campaign_file.load(obj.root)
    for problem in problems:
        click.echo(str(problem), err=True)
    at = now()
    made = Channels(campaign)
    worst = Level.ERROR if any(p.is_error for p in problems) else Level.OK
    labels = {Level.OK: "ok     ", Level.WARNING: "WARNING", Level.ERROR: "FAILED "}
    for name in sorted(campaign.channels):
        try:
            channel = made.get(name)
            verdict = channel.check()
        except CampaignError as exc:
            worst = Level.ERROR
            click.echo(f"FAILED  {name}: {shown(str(exc))}")
            continue
        try:
            health = channel.token_health()
            if health is not None:
                health = dated(health, channel.token_lasts, campaign.channels[name].settings.get("token"))
        except CampaignError as exc:
            level, token = Level.WARNING, f"when its token ends could not be asked: {exc}"
        else:
            if health is None:
                level, token = Level.OK, "when its token ends: the adapter cannot tell"
            else:
                level, token = standing(health, at)
                token = f"posts as {health.posts_as}; {token}"
        worst = max(worst, level)
        click.echo(f"{labels[level]} {name}: {shown(verdict)}")  # the network's words: shown, never obeyed
        click.echo(f"        {shown(token)}")
    made.close()
    sys.exit({Level.OK: 0, Level.WARNING: 3, Level.ERROR: 1}[worst])


@channels.command("refresh")
@click.argument("channel", required=False)
@pass_context
def channels_refresh(obj: Context, channel: str | None) -> None:
    """Exchange long-lived tokens for new ones where the network allows it, and write each new token where the
    old one was read from (its file in $CAMPAIGN_SECRETS_DIR); never to the ledger or a log.

    Exit status: 0 every token that can be refreshed was; 1 one could not be (or CHANNEL's cannot be)."""
    from scheduler import secrets
    from scheduler.channels.registry import adapter_class
    from scheduler.content import campaign as campaign_file
    from scheduler.errors import CampaignError
    from scheduler.publish.publisher import Channels

    campaign, problems = campaign_file.load(obj.root)
    for problem in problems:
        click.echo(str(problem), err=True)
    if channel is not None and channel not in campaign.channels:
        raise click.ClickException(f"no channel {channel} in channels.yml{did_you_mean(channel, campaign.channels)}")
    made = Channels(campaign)
    failed = any(p.is_error for p in problems)
    for name in [channel] if channel else sorted(campaign.channels):
        config = campaign.channels[name]
        try:
            if not adapter_class(config.type).can_refresh:
                failed = failed or channel is not None
                label = "FAILED " if channel else "skipped"
                click.echo(
                    f"{label} {name}: {config.type} tokens cannot be refreshed by a program; `campaign channels "
                    "check` says when it ends and how to renew it"
                )
                continue
            reference = secrets.reference_of(config.settings.get("token"))
            if reference is None:
                raise CampaignError(
                    f"channel {name}: `token:` is not one ${{NAME}} reference, so the new token has no one place to go"
                )
            secrets.writable(reference)  # before asking: a token the network renewed must not be lost
            path = secrets.store(reference, made.get(name).refresh())
        except CampaignError as exc:
            failed = True
            click.echo(f"FAILED  {name}: {shown(secrets.redact(str(exc)))}")
            continue
        click.echo(f"ok      {name}: a new token is in {path}")
    made.close()
    sys.exit(1 if failed else 0)
