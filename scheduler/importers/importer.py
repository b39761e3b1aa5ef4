"""One import, start to end but the writing: the campaign and the sheet read, each row a post or a
problem, each post a file name. The CLI shows it (`--dry-run`) or writes it (scheduler.importers.writer).

A row whose id is a post of the campaign (an exported sheet, edited) is that post: it is compared with
the row that post would export as now (scheduler.importers.exported), and only what differs is
written into its file (scheduler.importers.update). The row is reported instead when the post changed
since the export (the sheet's version cell says another version), when it would rewrite what was
published already (the ledger, read by the caller), or when it would move a series member."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from scheduler.content import campaign as campaign_file
from scheduler.content.campaign import POSTS_DIR
from scheduler.content.drafts import Draft
from scheduler.content.plan import Plan, build
from scheduler.importers import exported, update, writer
from scheduler.importers import sheet as sheet_file
from scheduler.importers.columns import (
    ALT,
    CHANNELS,
    DATE,
    DRAFT,
    HASHTAGS,
    HEADERS,
    ID,
    IMAGE,
    TEXT,
    TIME,
    TITLE,
    VERSION,
)
from scheduler.importers.rows import ImportedPost, RowProblem, exported_post, problem, read_rows


class CannotImport(ValueError):
    """The import cannot start (the file, the sheet's header, --into); the message says what to do."""


@dataclass(frozen=True)
class Prepared:
    sheet: sheet_file.Sheet
    planned: tuple[writer.Planned, ...]
    problems: tuple[RowProblem, ...]  # the rows not imported, and warnings (RowProblem.warning) of rows that are
    notes: tuple[str, ...] = ()  # about the whole sheet, for a person


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
    published: Mapping[str, Collection[str]] | None = None,
) -> Prepared:
    """What importing `path` into the campaign at `root` would write, and the rows it cannot.
    `parallel`: read the campaign's posts in forked workers (see scheduler.content.parallel).
    `published`: post id → the channels the ledger has it published on (read by the caller)."""
    folder = folder_for(root, into)
    try:
        read = sheet_file.read(path, sheet=sheet, encoding=encoding)
    except sheet_file.SheetError as exc:
        raise CannotImport(str(exc)) from None
    campaign, settings_problems = campaign_file.load(root)
    broken = next((p for p in settings_problems if p.is_error), None)
    if broken is not None:  # rows are checked against these files: never against a guess
        raise CannotImport(f"{broken}; fix it first (campaign validate lists every problem)")
    plan = build(root, parallel=parallel)
    posts, problems = read_rows(read, campaign)
    due: dict[str, datetime] = {}
    for entry in plan.entries:
        due.setdefault(entry.draft.id, entry.due)
    existing = {draft.id: draft for draft in plan.drafts}
    updating = _Updates(root, read, plan, due, published or {})
    unreadable = updating.broken_ids() - existing.keys()
    fresh, planned = [], []
    for post in posts:
        given = post.front.get("id")
        draft = existing.get(given) if isinstance(given, str) else None
        if draft is None and given in unreadable:
            problems.append(
                problem(
                    read, post.row, ID, f"the post with id {given!r} has an error; fix it first (campaign validate)"
                )
            )
            continue
        if draft is None:
            fresh.append(post)
            continue
        item = updating.row(post, draft)
        if isinstance(item, RowProblem):
            problems.append(item)
        else:
            planned.append(item)
    planned += writer.plan(root, folder, fresh, taken=existing.keys() | unreadable)
    planned.sort(key=lambda item: item.row)
    problems.sort(key=lambda p: p.row)
    notes = []
    if VERSION not in read.header.index and any(item.before is not None for item in planned):
        notes.append(
            "the sheet has no version column (campaign export writes one), so a post file changed since the "
            "sheet was made cannot be told apart: the rows change their files as shown (--dry-run shows it first)"
        )
    return Prepared(read, tuple(planned), tuple(problems), tuple(notes))


# What a row's change is called, for people: the front matter key (or the text) → words.
_CHANGES = {
    "publish_at": "time",
    "channels": "channels",
    "title": "title",
    "hashtags": "hashtags",
    "media": "images",
    "draft": "draft",
}
_SENT = ("text", "hashtags", "images")  # what goes out: never rewritten once it went out
_EMPTY: dict[str, Any] = {"title": None, "media": [], "draft": False}  # how a file says "none" over a default


class _Updates:
    """Rows whose id names a post of the campaign: what each changes in that post's file."""

    def __init__(
        self, root: Path, sheet: sheet_file.Sheet, plan: Plan, due: dict[str, datetime], published: Mapping[str, Any]
    ) -> None:
        self.root, self.sheet, self.plan, self.due, self.published = root, sheet, plan, due, published
        settings = plan.campaign.settings
        self.zone = settings.timezone
        self.headers = HEADERS.get(settings.language.split("_")[0], HEADERS["en"])
        self.keys = {_COLUMN_KEYS[c] for c in sheet.header.index if c in _COLUMN_KEYS}
        self.cells = {row.number: row.cells for row in sheet.rows}

    def broken_ids(self) -> set[str]:
        return {u.post for u in self.plan.unplaced}

    def row(self, post: ImportedPost, draft: Draft) -> writer.Planned | RowProblem:
        fail = partial(problem, self.sheet, post.row)
        if draft.id not in self.due:
            return fail(
                ID, f"{draft.path} has no time (so no export has it); give it one there, or give this row another id"
            )
        cells = exported.cells(draft, self.due[draft.id], self.zone, self.headers)
        current = exported_post(cells, self.plan.campaign)
        before = _reads(self.root / draft.path)
        if current is None or before is None:
            return fail(ID, f"{draft.path} cannot be read as the sheet would show it; campaign validate says why")
        changes: dict[str, Any] = {}
        for key in sorted(self.keys):
            if post.front.get(key) != current.front.get(key):
                changes[key] = post.front.get(key)
        body = post.text if TEXT in self.sheet.header.index and post.text != current.text else None
        said = [_CHANGES[k] for k in changes] + (["text"] if body is not None else [])
        if not said:
            return writer.Planned(post.row, draft.path, before, unchanged=True)
        if (self.root / draft.path).is_symlink():  # replaced, the link would become a file of its own
            return fail(ID, f"{draft.path} is a link to another file; change that file, or give this row another id")
        written = self.version(post.row)
        if written and written != exported.version(cells):
            return fail(
                VERSION,
                f"{draft.path} was changed since this sheet was exported (it says something else than this row "
                "was made from), so this row is not written over it: export again and make the change in the "
                "new sheet, or, to write the row over the file anyway, empty this row's version cell",
            )
        if "publish_at" in changes and draft.publish_at is None and draft.series:
            # Its own time would take it out of the series, and every later post of it would move up.
            return fail(
                TIME if TIME in self.sheet.header.index else DATE,
                f"{draft.path} takes its time from the series in {draft.series}: a time of its own would move the "
                f"posts after it in the series too; change the schedule in {draft.series}, or set publish_at in "
                "the post file to take it out of the series, then export again",
            )
        out = sorted(self.published.get(draft.id, ()))
        if out and any(word in _SENT for word in said):
            return fail(
                TEXT if body is not None else None,
                f"{draft.path} was published already (on {', '.join(out)}), so this row's change of its "
                f"{' and '.join(w for w in said if w in _SENT)} is not written: what went out stays as it was; "
                "for a new message, add a row without an id",
            )
        edits: dict[str, Any] = {}
        for key, value in changes.items():
            inherited = key in draft.origins and draft.origins[key].path != draft.path
            if value is None:  # the row has none: the post's own is taken out (a default may still give one)
                edits[key] = _EMPTY.get(key, update.REMOVE) if inherited and key in _EMPTY else update.REMOVE
            else:
                edits[key] = value
        try:
            content = update.updated(before, edits, body)
        except update.CannotUpdate as exc:
            return fail(ID, f"{draft.path}: {exc}; fix it first (campaign validate)")
        if content == before:
            return writer.Planned(post.row, draft.path, before, unchanged=True)
        notes = [f"published already on {', '.join(out)}: only what has not gone out changes"] if out else []
        kept = sorted(name for name, override in draft.overrides.items() if override.body is not None)
        if body is not None and kept:  # the sheet has no column for them: said, never changed in silence
            notes.append(f"its overrides for {', '.join(kept)} keep their own text; change them in the file if needed")
        note = "; ".join(notes) or None
        return writer.Planned(
            post.row, draft.path, content, unchanged=False, before=before, changed=tuple(said), note=note
        )

    def version(self, row: int) -> str:
        position = self.sheet.header.index.get(VERSION)
        cells = self.cells[row]
        if position is None or position >= len(cells) or cells[position] is None:
            return ""
        return str(cells[position]).strip()


_COLUMN_KEYS = {
    DATE: "publish_at",
    TIME: "publish_at",
    CHANNELS: "channels",
    TITLE: "title",
    HASHTAGS: "hashtags",
    IMAGE: "media",
    ALT: "media",
    DRAFT: "draft",
}


def _reads(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
