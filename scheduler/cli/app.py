"""What every command shares: the `campaign` click group, its Context, the one clock, the ledger and the time
options.

The command modules (main: validate, preview, diff; publishing, results, web, planning) import this one,
and never each other's helpers.
"""

from __future__ import annotations

import getpass
import os
import socket
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from scheduler.content.plan import Plan
    from scheduler.publish.clock import Clock
    from scheduler.publish.ledger import Actor, Ledger
    from scheduler.publish.publisher import Publisher


class Context:
    def __init__(self, root: str | None) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        from scheduler.content.campaign import find_root
        from scheduler.errors import ConfigError

        try:
            return find_root(self._root)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    def plan(self, *, parallel: bool = False, stored: bool = False) -> Plan:
        """The campaign's plan; `parallel` only for commands that hold no threads or connections;
        `stored`: with what earlier runs read and rendered, kept in CAMPAIGN_CACHE_DIR (scheduler.content.stored)."""
        from scheduler.content.plan import build
        from scheduler.content.stored import Store

        if not stored:
            return build(self.root, parallel=parallel)
        root = self.root
        store = Store.open(root)
        plan = build(root, parallel=parallel, store=store)
        store.save()
        return plan

    def checked_plan(self, now: datetime) -> Plan:
        """The plan, with a warning on each send due before `now` that the ledger (if any) does not
        have as published. Never writes to the ledger, and needs none."""
        from scheduler.content.plan import with_past_due

        plan = self.plan(parallel=True, stored=True)
        return with_past_due(plan, now, _published(self.root) if any(e.due < now for e in plan.entries) else ())


def now() -> datetime:
    """The one clock of the content commands: the real time, or $CAMPAIGN_NOW in tests."""
    from scheduler import settings

    given = settings.get("CAMPAIGN_NOW")
    if not given:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(given)
    except ValueError:
        raise click.ClickException(f"CAMPAIGN_NOW={given!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise click.ClickException(f"CAMPAIGN_NOW={given!r} needs an offset, such as +01:00")
    return moment.astimezone(UTC)


def _published(root: Path) -> set[tuple[str, str]]:
    """(post, channel) pairs the ledger has as published: DATABASE_URL's, else campaign.db in the root
    if it exists, read read-only. A ledger that cannot be read is reported, and counts as empty."""
    from scheduler import settings
    from scheduler.errors import LedgerError
    from scheduler.publish.ledger import database_url, published_sends

    given = settings.get("DATABASE_URL")
    if not given and not (root / "campaign.db").is_file():
        return set()
    try:
        return published_sends(database_url(given or None, root))
    except LedgerError as exc:
        click.echo(
            f"note: {exc}; every send whose time has passed is reported as not published (nothing else changes)",
            err=True,
        )
        return set()


def open_ledger(root: Path, url: str | None = None) -> Ledger:
    """The ledger of DATABASE_URL; an embedded SQLite file is migrated on the spot."""
    from scheduler import settings
    from scheduler.errors import LedgerError
    from scheduler.publish.ledger import Ledger, database_url

    given = url or settings.get("DATABASE_URL") or None
    refuse_outside_campaign(root, given)
    try:
        ledger = Ledger(database_url(given, root))
        if ledger.is_sqlite:
            ledger.upgrade()
        ledger.check_schema()
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None
    return ledger


def refuse_outside_campaign(root: Path, database: str | None) -> None:
    """A folder without channels.yml is not a campaign: say so, rather than make a campaign.db in it."""
    from scheduler.content.campaign import CHANNELS_FILE, NOT_A_CAMPAIGN

    if database is None and not (root / CHANNELS_FILE).is_file():
        raise click.ClickException(f"{root}: {NOT_A_CAMPAIGN}")


pass_context = click.make_pass_decorator(Context)
ROOT_HELP = "Campaign root (default: $CAMPAIGN_ROOT, else the current directory)."


def _root_after_command(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    found = ctx.find_object(Context)
    if value is not None and found is not None:
        found._root = value  # `campaign validate --root X`: given after the command, it wins


class _Command(click.Command):
    """A command that also takes --root after its name, as people type it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(
            click.Option(["--root"], metavar="DIR", help=ROOT_HELP, expose_value=False, callback=_root_after_command)
        )


class _Group(click.Group):
    command_class = _Command
    group_class = type  # subgroups (db, channels) make their commands the same way

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's first sentence whole, wrapped, rather than cut off with '...' at the width."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--root", metavar="DIR", help=ROOT_HELP)
@click.version_option(package_name="campaign-scheduler")
@click.pass_context
def main(ctx: click.Context, root: str | None) -> None:
    """Run a social-media campaign from Markdown files: validate, preview, publish on schedule."""
    ctx.obj = Context(root)


WHEN_FORMATS = (
    "a date (2027-11-15) or a date and time as publish_at takes it "
    "(2027-11-15 09:00, 2027-11-15T09:00:00, 2027-10-31T02:30+01:00), "
    "or as import reads them (15-11-2027, 15 november 2027, 15-11-2027 9:00)"
)


def _bound(value: str | None, zone: Any, end: bool) -> datetime | None:
    """A --from/--to value → UTC: a local date (a --to date includes that day) or a local time, read
    as `import` reads a sheet's date cell, which takes every `publish_at` time too."""
    if value is None:
        return None
    from scheduler.content.schedule import ScheduleError, to_utc
    from scheduler.importers.cells import CellError, Unreadable, read_date

    hint = "--to" if end else "--from"
    try:
        day, moment = read_date(value.strip())
    except Unreadable:
        raise click.BadParameter(f"{value!r} is not a date or a time; write {WHEN_FORMATS}", param_hint=hint) from None
    except CellError as exc:  # a day not on the calendar, a month first: the cell's words say which
        raise click.BadParameter(str(exc), param_hint=hint) from None
    try:
        if moment is None:
            return to_utc(datetime.combine(day + (timedelta(days=1) if end else timedelta()), time()), zone)
        return to_utc(datetime.combine(day, moment), zone)  # aware when the time has an offset
    except ScheduleError as exc:  # a local time in a DST gap or fold
        raise click.BadParameter(str(exc), param_hint=hint) from None
    except OverflowError:
        raise click.BadParameter(f"{value!r} is too close to the year 9999", param_hint=hint) from None


# ------------------------------------------------------------- what the ledger commands share


def campaign_zone(obj: Context) -> tzinfo:
    from scheduler.content import campaign as campaign_file

    zone: tzinfo = campaign_file.load(obj.root)[0].settings.timezone
    return zone


def current_actor() -> Actor:
    """Who is acting: $CAMPAIGN_USER, else the OS user; and this host."""
    from scheduler import settings
    from scheduler.publish.ledger import Actor

    who = settings.get("CAMPAIGN_USER")
    if not who:
        try:
            who = getpass.getuser()
        except (OSError, KeyError):  # a container user without a name
            who = f"uid {os.getuid()}"
    return Actor(who, socket.gethostname())


def make_publisher(
    obj: Context,
    ledger: Ledger,
    dry_run_dir: Path | None = None,
    worker: str | None = None,
    clock: Clock | None = None,
) -> tuple[Any, Publisher]:
    from scheduler import settings
    from scheduler.content import campaign as campaign_file
    from scheduler.errors import CampaignError
    from scheduler.links.gate import Gate
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
    # A rehearsal runs in simulated time: a link fetched now says nothing about a send in May.
    links = Gate() if dry_run_dir is None else None
    try:
        publisher = Publisher(
            ledger, Channels(campaign, dry_run_dir), Alerter(ledger, webhook), policy, worker, clock=clock, links=links
        )
    except CampaignError as exc:  # a setting it reads (CAMPAIGN_UPLOAD_WORKERS)
        raise click.ClickException(str(exc)) from None
    return campaign, publisher


def setup_logging(level: str | None, fmt: str | None, zone: tzinfo | None = None) -> None:
    from scheduler import logs, settings

    logs.setup(level or settings.get("CAMPAIGN_LOG_LEVEL"), fmt or settings.get("CAMPAIGN_LOG_FORMAT"), zone)


log_options = [
    click.option("--log-format", type=click.Choice(["text", "json"]), help="Log lines as text or JSON."),
    click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)),
]


def with_logging(f: Any) -> Any:
    for option in reversed(log_options):
        f = option(f)
    return f
