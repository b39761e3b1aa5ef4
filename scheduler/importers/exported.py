"""A post as a row of the sheet `campaign export --format csv` writes, and that row's version.

The importer reads the row a post would export as now, to tell what a row of a sheet changes (only
what differs from it is written into the post file), and the version (a short hash of that row,
in the sheet's `version`/`versie` column) to tell whether the post changed since its sheet was
exported: then the row is reported, never written over the change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from scheduler.content.drafts import Draft
from scheduler.content.schedule import ScheduleError, to_utc
from scheduler.importers.columns import HEADERS, NO_TAGS


def cells(draft: Draft, due: datetime, zone: tzinfo, headers: Mapping[str, str]) -> list[str]:
    """The cells of `draft`'s row, due at `due`, in the order of columns.ORDER but the version."""
    day, moment = _local(due, zone)
    return [
        day,
        moment,
        ", ".join(draft.channels),
        draft.body.strip(),
        draft.title or "",
        _hashtags(draft.hashtags),
        "\n".join(ref.path for ref in draft.media),
        "\n".join(ref.alt for ref in draft.media),
        draft.id,
        ("ja" if headers is HEADERS["nl"] else "yes") if draft.draft else "",
    ]


def version(row: Sequence[str]) -> str:
    """A short fingerprint of a row's cells: another when any cell says something else. It starts
    with a letter, so no spreadsheet program reads it as a number (and drops a leading 0)."""
    return "v" + hashlib.sha256("\x1f".join(row).encode("utf-8")).hexdigest()[:10]


def _local(when: datetime, zone: tzinfo) -> tuple[str, str]:
    local = when.astimezone(zone)
    naive = local.replace(tzinfo=None)
    shown = naive.strftime("%H:%M" if naive.second == 0 else "%H:%M:%S")
    try:
        to_utc(naive, zone)
    except ScheduleError:  # it happens twice: the offset says which
        return naive.date().isoformat(), shown + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    return naive.date().isoformat(), shown


def _hashtags(refs: tuple[str, ...] | None) -> str:
    if refs is None:
        return ""
    return ", ".join(refs) if refs else NO_TAGS
