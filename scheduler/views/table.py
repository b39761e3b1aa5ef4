"""The plan as a spreadsheet: one row per post, in the columns `campaign import` reads, so a sheet
exported and imported again keeps every post (its time, channels, text, title, hashtags, images,
id and draft flag).

The text is the post's body as written (a template: `{{ vars.helpline }}` stays), so it can be
edited and imported back; the hashtags are the post's own (`-`: none at all). Times are local wall
times in the campaign's zone; one that happens twice (the autumn fold) carries its offset.
Some front matter has no column (`overrides`, `vars`, `max_late`, ...): `Export.notes` names
each post that sets such a key, so nothing is dropped without a word. A cell that a spreadsheet
program would run as a formula (a text starting with `=`, `+`, `-`, `@`) gets a `'` in front
(scheduler.formulas); `campaign import` takes it off again.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from scheduler import formulas
from scheduler.content.drafts import Draft
from scheduler.content.plan import Plan
from scheduler.importers import columns, exported

# Front matter that no column carries (id, title, publish_at, channels, hashtags, media, draft do).
_NOT_CARRIED = ("overrides", "vars", "max_late", "allow_repeat", "card", "language", "thread")


@dataclass(frozen=True)
class Export:
    text: str  # the CSV
    posts: int  # rows after the header
    notes: tuple[str, ...]  # what the sheet does not carry, and posts left out, in words


def as_csv(plan: Plan, *, delimiter: str = ",") -> Export:
    """Every post that has a time, sorted by time, then id."""
    zone = plan.campaign.settings.timezone
    headers = columns.HEADERS.get(plan.campaign.settings.language.split("_")[0], columns.HEADERS["en"])
    due: dict[str, datetime] = {}
    for entry in plan.entries:
        due.setdefault(entry.draft.id, entry.due)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([headers[c] for c in columns.ORDER])
    notes: list[str] = []
    placed = sorted((d for d in plan.drafts if d.id in due), key=lambda d: (due[d.id], d.id))
    for draft in placed:
        row = exported.cells(draft, due[draft.id], zone, headers)
        row.append(exported.version(row))
        writer.writerow([formulas.defuse(cell) for cell in row])  # a text that starts with = stays text
        notes += _not_carried(draft)
    timeless = [d.path for d in plan.drafts if d.id not in due]
    if timeless:
        notes.append(f"left out, no time: {', '.join(timeless)}")
    broken = [u.path for u in plan.unplaced if u.path not in {d.path for d in plan.drafts}]
    if broken:
        notes.append(f"left out, they have errors (campaign validate lists them): {', '.join(broken)}")
    return Export(out.getvalue(), len(placed), tuple(notes))


def _not_carried(draft: Draft) -> list[str]:
    """Keys of this post (its own, or of a folder's _defaults.yml below posts/) that no column carries."""
    root_defaults = "posts/_defaults.yml"
    keys = [k for k in _NOT_CARRIED if k in draft.origins and draft.origins[k].path != root_defaults]
    if not keys:
        return []
    return [f"{draft.path}: not in the sheet: {', '.join(keys)}"]
