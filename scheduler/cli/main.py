"""The `campaign` command and its content commands (validate, preview, diff); the ledger commands are in
scheduler.cli.publishing and scheduler.cli.status, what they share in scheduler.cli.app. Each command
imports what it needs, so `--help` stays fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.cli import planning, publishing, results, signoff, status, web  # noqa: F401 - they register their commands on `main`
from scheduler.cli.app import WHEN_FORMATS, Context, _bound, main, now, pass_context

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scheduler.content.plan import Entry, Plan
    from scheduler.content.problems import Problem
    from scheduler.views.preview import Signoffs


__all__ = ["main", "run"]  # `main`: the group with every command registered, as tests invoke it


def run() -> None:
    """The console script."""
    main()


# ---------------------------------------------------------------------------------- validate


def _github_escape(text: str, property_: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_ else text


def _problem_lines(problems: list[Problem], fmt: str) -> str:
    """A link check's problems quote what a web site answered (a redirect's address): shown, never obeyed."""
    from scheduler.terminal import in_json, shown

    if fmt == "json":
        import json

        return in_json(
            json.dumps(
                [
                    {"path": p.path, "line": p.line, "severity": p.severity.value, "message": p.message}
                    for p in problems
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
    if fmt == "github":
        lines = []
        for p in problems:
            where = f"file={_github_escape(p.path, True)}" + (f",line={p.line}" if p.line else "")
            message = _github_escape(shown(p.message, lines=True))
            lines.append(f"::{p.severity.value} {where},title=campaign validate::{message}")
        return "\n".join(lines)
    return "\n".join(shown(str(p), lines=True) for p in problems)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "github", "json"]), default="text", show_default=True)
@click.option("--check-links", is_flag=True, help="Also fetch every link in every post once (needs the network).")
@pass_context
def validate(obj: Context, fmt: str, check_links: bool) -> None:
    """Check every post, schedule and setting; exit 1 if anything is an error.

    Needs no database, no network and no secrets. A send whose time has passed is a warning
    unless the ledger, where there is one, has it as published. With --check-links, a dead or
    failing link is an error on its line, and one that leads to another site a warning.
    """
    from dataclasses import replace

    from scheduler.content.problems import causes_first, plural, sort_problems

    plan = obj.checked_plan(now())
    if check_links:
        plan = replace(plan, problems=tuple(sort_problems([*plan.problems, *_link_problems(plan)])))
    # A person reads text and annotations: a broken settings file first, the posts it kept from
    # being checked as one line. JSON, for programs, keeps a record per problem.
    output = _problem_lines(list(plan.problems) if fmt == "json" else causes_first(plan.problems), fmt)
    if output:
        click.echo(output)
    errors = sum(p.is_error for p in plan.problems)
    posts = len({e.draft.id for e in plan.entries})
    summary = (
        f"{plural(posts, 'post')}, {plural(len(plan.entries), 'planned send')}: "
        f"{plural(errors, 'error')}, {plural(len(plan.problems) - errors, 'warning')}"
    )
    click.echo(summary, err=True)
    if fmt != "json":  # who must approve what before it goes out, and where a ledger says, where that stands
        _signoff_lines(obj.root, plan, fmt)
    sys.exit(1 if errors else 0)


def _signoff_lines(root: Path, plan: Plan, fmt: str) -> None:
    """Each post that needs sign-off, once, and where its sign-off stands (a notice in GitHub's format)."""
    from scheduler.signoff.state import in_the_ledger
    from scheduler.terminal import shown
    from scheduler.views.preview import signoff_line, signoff_unknown

    first: dict[str, Entry] = {}
    for entry in plan.entries:
        if entry.draft.signoff:
            first.setdefault(entry.draft.id, entry)
    signoffs = _signoffs(root, first.values())
    zone = plan.campaign.settings.timezone
    for post, entry in sorted(first.items()):
        line = shown(signoff_line(entry, signoffs, zone) or "", lines=True)
        if fmt == "github":
            where = f"file={_github_escape(entry.draft.path, True)}"
            click.echo(f"::notice {where},title=sign-off::{_github_escape(f'{post}: {line}')}")
        else:
            click.echo(f"{post}: {line} before it goes out" if signoffs is None else f"{post}: {line}", err=True)
    if signoff_unknown(first.values(), signoffs):
        click.echo(f"note: {in_the_ledger()}", err=True)


def _link_problems(plan: Plan) -> list[Problem]:
    import time

    from scheduler.content.problems import plural
    from scheduler.links.checker import Checker
    from scheduler.links.report import TIMEOUT, check_plan

    started = time.perf_counter()
    checker = Checker(timeout=TIMEOUT)
    try:
        checked = check_plan(plan, checker)
    finally:
        checker.close()
    click.echo(
        f"checked {plural(checked.links, 'link')} in {time.perf_counter() - started:.1f} s: "
        f"{checked.bad:,} dead or failing",
        err=True,
    )
    return checked.problems


# ---------------------------------------------------------------------------------- preview


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
    signoffs = _signoffs(obj.root, entries)
    if fmt == "json":
        _write(output, views.as_json(plan, entries, problems, unplaced, signoffs))
    elif fmt == "markdown":
        _write(output, views.as_markdown(plan, entries, problems, unplaced, signoffs))
    elif fmt == "html":
        from scheduler.views import html

        if output == "-":
            _write(output, html.render_page(plan, entries, problems, unplaced, signoffs))
        else:
            target = Path(output or "preview.html")  # big campaigns get one more page per month
            for name, page in html.render_pages(plan, entries, problems, target.name, unplaced, signoffs).items():
                _write(str(target.with_name(name)), page)
    else:
        color = output is None and sys.stdout.isatty()
        _write(output, views.as_text(plan, entries, problems, unplaced, color=color, signoffs=signoffs))


def _signoffs(root: Path, entries: Iterable[Entry]) -> Signoffs:
    """Where each post's sign-off stands, from DATABASE_URL's ledger (else campaign.db if it exists); None
    when there is none, or it cannot be read (said once): the views then say what each post needs, and
    that the state is kept in the ledger. Not read at all when no post of `entries` needs sign-off."""
    from scheduler import settings
    from scheduler.errors import LedgerError
    from scheduler.publish.ledger import Ledger, database_url

    if not any(e.draft.signoff for e in entries):
        return None
    given = settings.get("DATABASE_URL")
    if not given and not (root / "campaign.db").is_file():
        return None
    try:
        ledger = Ledger(database_url(given or None, root))
        try:
            ledger.check_schema()
            return ledger.signoffs.states(ledger.clock())
        finally:
            ledger.close()
    except LedgerError as exc:
        click.echo(f"note: {exc}; sign-off states are not shown", err=True)
        return None


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
