"""One import, start to end but the writing: the campaign and the sheet read, each row a post or a
problem, each post a file name. The CLI shows it (`--dry-run`) or writes it (scheduler.importers.writer)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scheduler.content import campaign as campaign_file
from scheduler.content import drafts as drafts_file
from scheduler.content.campaign import POSTS_DIR
from scheduler.importers import sheet as sheet_file
from scheduler.importers import writer
from scheduler.importers.columns import ID
from scheduler.importers.rows import RowProblem, problem, read_rows


class CannotImport(ValueError):
    """The import cannot start (the file, the sheet's header, --into); the message says what to do."""


@dataclass(frozen=True)
class Prepared:
    sheet: sheet_file.Sheet
    planned: tuple[writer.Planned, ...]
    problems: tuple[RowProblem, ...]


def folder_for(root: Path, into: str | None) -> str:
    """--into as a folder under posts/, relative to the campaign root (posts/ itself by default)."""
    if into is None:
        return POSTS_DIR
    given = Path(into)
    full = (given if given.is_absolute() else root / given).resolve()
    posts = (root / POSTS_DIR).resolve()
    if not full.is_relative_to(posts):
        raise CannotImport(f"--into {into}: posts go in posts/ or a folder in it (such as posts/november)")
    relative = PurePosixPath(full.relative_to(root.resolve()).as_posix())
    if any(part.startswith(("_", ".")) for part in relative.parts):
        raise CannotImport(f"--into {into}: folders whose names start with _ or . are not read; pick another")
    return relative.as_posix()


def prepare(
    root: Path,
    path: Path,
    *,
    into: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    parallel: bool = False,
) -> Prepared:
    """What importing `path` into the campaign at `root` would write, and the rows it cannot.
    `parallel`: read the campaign's posts in forked workers (see scheduler.content.parallel)."""
    folder = folder_for(root, into)
    try:
        read = sheet_file.read(path, sheet=sheet, encoding=encoding)
    except sheet_file.SheetError as exc:
        raise CannotImport(str(exc)) from None
    campaign, settings_problems = campaign_file.load(root)
    broken = next((p for p in settings_problems if p.is_error), None)
    if broken is not None:  # rows are checked against these files: never against a guess
        raise CannotImport(f"{broken}; fix it first (campaign validate lists every problem)")
    existing, _ = drafts_file.read_all(campaign, parallel=parallel)
    posts, problems = read_rows(read, campaign)
    taken = {draft.id: draft.path for draft in existing}
    fresh, planned = [], []
    for post in posts:
        given = post.front.get("id")
        if given not in taken:
            fresh.append(post)
        elif writer.same(root / taken[given], post):  # imported before, as it is now
            planned.append(writer.Planned(post.row, taken[given], writer.content(post), unchanged=True))
        else:
            problems.append(
                problem(
                    read,
                    post.row,
                    ID,
                    f"the campaign has a post with id {given!r} already ({taken[given]}) that says something "
                    "else; change that file, or give this row another id",
                )
            )
    planned += writer.plan(root, folder, fresh)
    planned.sort(key=lambda item: item.row)
    problems.sort(key=lambda p: p.row)
    return Prepared(read, tuple(planned), tuple(problems))
