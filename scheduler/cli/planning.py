"""The commands that plan a campaign: new (from the starter), import (a spreadsheet → posts) and
export (the plan as CSV or as a calendar)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import click

from scheduler.cli.app import main, now


def _week(value: str | None) -> date:
    """--week, else the first Monday at least four weeks from now: time to write before it starts."""
    if value is None:
        soon = now().date() + timedelta(days=28)
        return soon + timedelta(days=-soon.weekday() % 7)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as 2027-11-15", param_hint="--week") from None


@main.command()
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The campaign's name (default: the folder's name).")
@click.option("--timezone", default="Europe/Amsterdam", show_default=True, help="IANA time zone of the campaign.")
@click.option("--language", default="nl", show_default=True, help="Language of dates and example texts (nl, en, ...).")
@click.option("--week", metavar="DATE", help="First day of the campaign week (default: a Monday four weeks ahead).")
def new(directory: Path, name: str | None, timezone: str, language: str, week: str | None) -> None:
    """Start a campaign in DIR that validates at once: example posts, settings, channels, CI.

    Never overwrites a file: one that is already there is kept, and named.
    """
    from babel.dates import format_date

    from scheduler.content.problems import plural
    from scheduler.starter.new import Options, StarterError, create

    first = _week(week)
    options = Options(name or directory.resolve().name, timezone, language, first)
    try:
        result = create(directory, options)
    except StarterError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write in {directory}: {exc.strerror or exc}") from None
    for path in result.written:
        click.echo(f"  wrote {path}")
    for path in result.kept:
        click.echo(f"  kept  {path} (it was already there; not changed)")
    click.echo(
        f"{directory}: {plural(len(result.written), 'file')} written"
        + (f", {plural(len(result.kept), 'file')} kept as they were" if result.kept else "")
        + f"; the campaign week starts {format_date(first, 'EEEE d MMMM y', locale=language)}."
    )
    root = f" --root {directory}" if directory != Path(".") else ""
    click.echo(f"Next: campaign validate{root}, campaign preview{root}, campaign rehearse{root}")
    if result.kept:
        click.echo("Files that were already there may not fit the new ones: run campaign validate.", err=True)
