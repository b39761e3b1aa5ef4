"""The `campaign` command. Each subcommand imports what it needs, so `--help` stays fast."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from scheduler.content.plan import Plan
    from scheduler.content.problems import Problem


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

    def plan(self, *, parallel: bool = False) -> Plan:
        """The campaign's plan; `parallel` only for commands that hold no threads or connections."""
        from scheduler.content.plan import build

        return build(self.root, parallel=parallel)

    def checked_plan(self, now: datetime) -> Plan:
        """The plan, with a warning on each send due before `now` that the ledger (if any) does not
        have as published. Never writes to the ledger, and needs none."""
        from scheduler.content.plan import with_past_due

        plan = self.plan(parallel=True)
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--root", metavar="DIR", help=ROOT_HELP)
@click.version_option(package_name="campaign-scheduler")
@click.pass_context
def main(ctx: click.Context, root: str | None) -> None:
    """Run a social-media campaign from Markdown files: validate, preview, publish on schedule."""
    ctx.obj = Context(root)


def run() -> None:
    """The console script: every command registered, then click."""
    import scheduler.cli.publishing  # noqa: F401 - registers the ledger commands on `main`

    main()


# ---------------------------------------------------------------------------------- validate


def _github_escape(text: str, property_: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_ else text


def _problem_lines(problems: list[Problem], fmt: str) -> str:
    if fmt == "json":
        import json

        return json.dumps(
            [{"path": p.path, "line": p.line, "severity": p.severity.value, "message": p.message} for p in problems],
            ensure_ascii=False,
            indent=2,
        )
    if fmt == "github":
        lines = []
        for p in problems:
            where = f"file={_github_escape(p.path, True)}" + (f",line={p.line}" if p.line else "")
            lines.append(f"::{p.severity.value} {where},title=campaign validate::{_github_escape(p.message)}")
        return "\n".join(lines)
    return "\n".join(str(p) for p in problems)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "github", "json"]), default="text", show_default=True)
@pass_context
def validate(obj: Context, fmt: str) -> None:
    """Check every post, schedule and setting; exit 1 if anything is an error.

    Needs no database, no network and no secrets. A send whose time has passed is a warning
    unless the ledger, where there is one, has it as published.
    """
    from scheduler.content.problems import plural

    plan = obj.checked_plan(now())
    output = _problem_lines(list(plan.problems), fmt)
    if output:
        click.echo(output)
    errors = sum(p.is_error for p in plan.problems)
    posts = len({e.draft.id for e in plan.entries})
    summary = (
        f"{plural(posts, 'post')}, {plural(len(plan.entries), 'planned send')}: "
        f"{plural(errors, 'error')}, {plural(len(plan.problems) - errors, 'warning')}"
    )
    click.echo(summary, err=True)
    sys.exit(1 if errors else 0)


# ---------------------------------------------------------------------------------- preview


WHEN_FORMATS = (
    "a date (2027-11-15) or a date and time as publish_at takes it "
    "(2027-11-15 09:00, 2027-11-15T09:00:00, 2027-10-31T02:30+01:00)"
)


def _bound(value: str | None, zone: Any, end: bool) -> datetime | None:
    """A --from/--to value → UTC: a local date (a --to date includes that day) or a `publish_at` time."""
    if value is None:
        return None
    from scheduler.content.schedule import ScheduleError, parse_local, to_utc

    text, hint = value.strip(), "--to" if end else "--from"
    try:
        day = date.fromisoformat(text) if len(text) <= 10 else None
    except ValueError:
        day = None
    try:
        if day is not None:
            return to_utc(datetime.combine(day + (timedelta(days=1) if end else timedelta()), time()), zone)
        try:
            local = parse_local(text)  # the parser of publish_at, so both take the same times
        except ScheduleError:
            raise click.BadParameter(
                f"{value!r} is not a date or a time; write {WHEN_FORMATS}", param_hint=hint
            ) from None
        return to_utc(local, zone)
    except ScheduleError as exc:  # a local time in a DST gap or fold
        raise click.BadParameter(str(exc), param_hint=hint) from None
    except OverflowError:
        raise click.BadParameter(f"{value!r} is too close to the year 9999", param_hint=hint) from None


def _write(output: str | None, text: str) -> None:
    if output and output != "-":
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


@main.command()
@click.option("--from", "start", metavar="WHEN", help=f"First time to show: {WHEN_FORMATS}.")
@click.option("--to", "end", metavar="WHEN", help=f"Last time to show (a date includes its day): {WHEN_FORMATS}.")
@click.option("--channel", metavar="NAME", help="Only this channel.")
@click.option("--drafts", is_flag=True, help="Include posts marked draft: true.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown", "html"]), default="text", show_default=True
)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of standard output.")
@pass_context
def preview(
    obj: Context, start: str | None, end: str | None, channel: str | None, drafts: bool, fmt: str, output: str | None
) -> None:
    """Show exactly what will go out, where and when."""
    from scheduler.views import preview as views

    plan = obj.checked_plan(now())
    zone = plan.campaign.settings.timezone
    if channel is not None and channel not in plan.campaign.channels:
        raise click.BadParameter(f"no channel {channel!r} in channels.yml", param_hint="--channel")
    first, last = _bound(start, zone, False), _bound(end, zone, True)
    entries = plan.select(start=first, end=last, channel=channel, drafts=drafts)
    problems = plan.problems_of(start=first, end=last, channel=channel)
    unplaced = list(plan.unplaced)  # not on the calendar, so in every period
    if fmt == "json":
        _write(output, views.as_json(plan, entries, problems, unplaced))
    elif fmt == "markdown":
        _write(output, views.as_markdown(plan, entries, problems, unplaced))
    elif fmt == "html":
        from scheduler.views import html

        if output == "-":
            _write(output, html.render_page(plan, entries, problems, unplaced))
        else:
            target = Path(output or "preview.html")  # big campaigns get one more page per month
            for name, page in html.render_pages(plan, entries, problems, target.name, unplaced).items():
                _write(str(target.with_name(name)), page)
    else:
        color = output is None and sys.stdout.isatty()
        _write(output, views.as_text(plan, entries, problems, unplaced, color=color))


# ---------------------------------------------------------------------------------- diff


@main.command()
@click.argument("base")
@click.argument("head", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--drafts", is_flag=True, help="Include posts marked draft: true.")
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of standard output.")
@pass_context
def diff(obj: Context, base: str, head: str | None, fmt: str, drafts: bool, output: str | None) -> None:
    """What a change does to the schedule: sends added, removed, moved or changed.

    BASE and HEAD are git revisions (HEAD: the working tree when left out), e.g.
    `campaign diff origin/main`. The campaign folder (--root) may be anywhere in the
    repository. Problems in either revision are shown, and the exit status is 0 either way:
    `campaign validate` is the check that fails.
    """
    from scheduler.views import diff_report
    from scheduler.views.diff import GitError, compare

    try:
        result = compare(obj.root, base, head, drafts=drafts, parallel=True)
    except GitError as exc:
        raise click.ClickException(str(exc)) from None
    views = {"text": diff_report.as_text, "markdown": diff_report.as_markdown, "json": diff_report.as_json}
    _write(output, views[fmt](result))
