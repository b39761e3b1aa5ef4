"""The commands that plan a campaign: new (from the starter), import (a spreadsheet → posts) and
export (the plan as CSV or as a calendar)."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.cli.app import WHEN_FORMATS, Context, _bound, _published, main, now, pass_context

if TYPE_CHECKING:
    from scheduler.content.plan import Plan
    from scheduler.importers.writer import Planned


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
    """Start a campaign in DIR from examples; it validates at once.

    Example posts (a week, a year of stories, a hashtag post), settings, dry-run channels with
    every network as a comment, the CI preview, a .gitignore and a README. Never overwrites a
    file: one that is already there is kept, and named; a folder with posts/ or channels.yml is
    refused.
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


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", metavar="DIR", help="Folder under posts/ for the new files (default: posts/).")
@click.option("--dry-run", is_flag=True, help="Write nothing: show each new file, and each update as a diff.")
@click.option("--sheet", metavar="NAME", help="The sheet of an .xlsx workbook (default: the first).")
@click.option("--encoding", metavar="NAME", help="The encoding of a CSV file (default: found from the file).")
@pass_context
def import_(obj: Context, file: Path, into: str | None, dry_run: bool, sheet: str | None, encoding: str | None) -> None:
    """A post file for each row of a sheet (CSV or .xlsx).

    The header row names the columns, in English or Dutch: date (datum), time (tijd), channels
    (kanalen), text (tekst), and optionally title (titel), hashtags, image (afbeelding), alt, id,
    draft (concept). A row with a problem is reported by its number and column; the other rows
    still go in. A row with the id of a post (an exported sheet) updates that post's file, only
    where the row says something else; a new post never overwrites a file. Exit 1 if any row
    was not imported.
    """
    from scheduler.content.problems import plural
    from scheduler.importers import writer
    from scheduler.importers.importer import CannotImport, prepare

    root = obj.root
    published: dict[str, set[str]] = {}
    for post, channel in _published(root):  # the ledger, read-only, where there is one
        published.setdefault(post, set()).add(channel)
    try:
        prepared = prepare(root, file, into=into, sheet=sheet, encoding=encoding, parallel=True, published=published)
    except CannotImport as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    header = prepared.sheet.header
    click.echo(
        f"{file.name} ({prepared.sheet.described}): {plural(len(prepared.sheet.rows), 'row')} after the header",
        err=True,
    )
    if header.ignored:
        click.echo(f"note: not read, no such column: {', '.join(map(repr, header.ignored))}", err=True)
    for note in prepared.notes:
        click.echo(f"note: {note}", err=True)
    for problem in prepared.problems:
        click.echo(f"{file.name}: {problem}", err=True)
    new = [p for p in prepared.planned if not p.unchanged]
    for item in prepared.planned:
        if item.unchanged:
            click.echo(f"row {item.row}: {item.path} is already there with the same content; left as it is")
    if dry_run:
        for item in new:
            if item.before is not None:
                click.echo(f"row {item.row}: would update {item.path} ({', '.join(item.changed)})" + _noted(item))
                click.echo(_diff(item), nl=False)
            else:
                click.echo(f"row {item.row}: would write {item.path}")
                click.echo("".join(f"    {line}\n" for line in item.content.splitlines()), nl=False)
        written: list[writer.Planned] = []
        raced: list[writer.Planned] = []
    else:
        written, raced = writer.write(root, new)
        for item in written:
            if item.before is not None:
                click.echo(f"row {item.row}: updated {item.path} ({', '.join(item.changed)})" + _noted(item))
            else:
                click.echo(f"row {item.row}: wrote {item.path}")
        for item in raced:
            click.echo(f"row {item.row}: not written: {item.path} changed meanwhile; import again", err=True)
    not_imported = len({p.row for p in prepared.problems if not p.warning})
    done = new if dry_run else written
    updates = sum(1 for item in done if item.before is not None)
    same = len(prepared.planned) - len(new)
    click.echo(
        f"{plural(len(done) - updates, 'post')} {'would be written' if dry_run else 'written'}"
        + (f", {plural(updates, 'post')} {'would be updated' if dry_run else 'updated'}" if updates else "")
        + (f", {plural(same, 'post')} already there" if same else "")
        + (
            f", {plural(not_imported, 'row')} not imported: fix them in the sheet and import it again"
            if not_imported
            else ""
        )
        + (" (the rows imported now are then left as they are)" if not_imported and not dry_run else ""),
        err=True,
    )
    if dry_run:
        from scheduler.content.plan import build, with_past_due
        from scheduler.importers import trial

        # Every row's file is checked, also one there already: a second import of a sheet says 0 only
        # when no row has a problem, not only when the files it wrote this time have none.
        kept = [item for item in prepared.planned if item.unchanged]
        with trial.campaign_with(root, new) as copy:  # planned as it would be, the campaign untouched
            errors = _report_by_row(with_past_due(build(copy, parallel=True), now()), new + kept)
    else:
        there = written + [item for item in prepared.planned if item.unchanged]
        errors = _report_by_row(obj.checked_plan(now()), there) if there else 0
    if not_imported or raced or errors:
        sys.exit(1)


def _noted(item: Planned) -> str:
    return f"; note: {item.note}" if item.note else ""


def _diff(item: Planned) -> str:
    """What an update changes in a post file, as a unified diff, indented."""
    import difflib

    lines = difflib.unified_diff(
        (item.before or "").splitlines(keepends=True),
        item.content.splitlines(keepends=True),
        f"{item.path} (now)",
        f"{item.path} (after the import)",
    )
    return "".join(f"    {line if line.endswith(chr(10)) else line + chr(10)}" for line in lines)


def _report_by_row(plan: Plan, written: list[Planned]) -> int:
    """The problems `plan` finds in the files of the rows, reported by their rows (for a file that
    was there already, its errors only); the number of errors."""
    rows = {item.path: item.row for item in written}
    kept = {item.path for item in written if item.unchanged}
    found = [p for p in plan.problems if p.path in rows and (p.is_error or p.path not in kept)]
    for problem in found:
        click.echo(f"row {rows[problem.path]}: {problem}", err=True)
    errors = sum(p.is_error for p in found)
    if errors:
        click.echo("campaign validate lists these too; fix the files or the rows", err=True)
    return errors


@main.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "ics"]), required=True, help="A sheet, or a calendar.")
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of standard output.")
@click.option(
    "--delimiter", default=",", show_default=True, help="csv: the character between columns (; for Excel in Dutch)."
)
@click.option("--from", "start", metavar="WHEN", help=f"ics: the first time to include: {WHEN_FORMATS}.")
@click.option(
    "--to", "end", metavar="WHEN", help=f"ics: the last time to include (a date includes its day): {WHEN_FORMATS}."
)
@click.option("--channel", metavar="NAME", help="ics: only this channel.")
@pass_context
def export(
    obj: Context, fmt: str, output: str | None, delimiter: str, start: str | None, end: str | None, channel: str | None
) -> None:
    """Write the plan as a sheet (csv) or as a calendar (ics).

    csv: one row per post, in the columns `campaign import` reads, so exporting and importing
    again keeps every post; what the sheet
    cannot carry is named. ics: every send an event in the campaign's time zone, with a UID per
    post and channel, so a calendar app updates its events when the file is imported again.
    """
    from scheduler.content.problems import plural

    plan = obj.plan(parallel=True)
    if fmt == "csv":
        from scheduler.views import table

        if start or end or channel:
            raise click.UsageError("--from, --to and --channel are for --format ics; a sheet has every post")
        if len(delimiter) != 1:
            raise click.BadParameter("give one character, such as , or ;", param_hint="--delimiter")
        result = table.as_csv(plan, delimiter=delimiter)
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        _write_out(output, result.text, bom=True)
        click.echo(f"{plural(result.posts, 'post')} exported", err=True)
        return
    from scheduler.views import ics

    zone = plan.campaign.settings.timezone
    if channel is not None and channel not in plan.campaign.channels:
        raise click.BadParameter(f"no channel {channel!r} in channels.yml", param_hint="--channel")
    entries = plan.select(start=_bound(start, zone, False), end=_bound(end, zone, True), channel=channel)
    _write_out(output, ics.calendar(plan, entries, stamp=now()), bom=False)
    held = sum(1 for e in entries if not e.publishable)
    if held:
        click.echo(
            f"note: {plural(held, 'event')} marked 'held:', a problem holds them (campaign validate lists it)", err=True
        )


def _write_out(output: str | None, text: str, *, bom: bool) -> None:
    """To FILE (a sheet with a UTF-8 mark, so Excel reads its accents right), or to standard output."""
    if output and output != "-":
        try:
            Path(output).write_text(text, encoding="utf-8-sig" if bom else "utf-8", newline="")
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@main.group()
def media() -> None:
    """The campaign's media as networks that fetch them from its public address (media_url) see them."""


@media.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_context
def media_export(obj: Context, directory: Path) -> None:
    """Write every file a planned send to Instagram (or another network that fetches media) needs into DIRECTORY,
    under its public name: the SHA-256 of its bytes and its suffix. An image is its rendition for the network
    (made to fit, metadata stripped), a video its file. Deploy DIRECTORY at the campaign's media_url.

    Exit status: 0 written; 1 a file could not be made (the rest is written)."""
    from scheduler.media import public
    from scheduler.media.renditions import CacheUnwritable, DoesNotFit

    plan = obj.plan(parallel=True)
    files: list[public.PublicFile] = []
    failed = False
    for entry in plan.entries:
        if entry.post is None or entry.draft.draft or not entry.channel.limits.public_media:
            continue
        for item in entry.post.media:
            try:
                files.append(public.of_item(item, entry.channel.limits.media))
            except (DoesNotFit, CacheUnwritable) as exc:
                failed = True
                click.echo(f"error: {entry.draft.path}: {item.path.name}: {exc.said or exc}", err=True)
            except OSError as exc:
                failed = True
                click.echo(f"error: {entry.draft.path}: cannot read {item.path.name}: {exc.strerror}", err=True)
    try:
        written, present = public.export(files, directory)
    except OSError as exc:
        raise click.ClickException(f"cannot write into {directory}: {exc.strerror or exc}") from None
    where = plan.campaign.media_url or "the campaign's media_url (not set in channels.yml yet)"
    click.echo(f"{written} file(s) written, {present} already there, in {directory}; deploy it at {where}")
    sys.exit(1 if failed else 0)
