"""What can still be read of a post that cannot be planned: an id, its channels and a rough time.

A post with an error is never sent, but a person must hear of it before its time. So the publisher
records it in the ledger at the time the file seems to mean, on the channels it seems to name, even
when the front matter does not parse as a whole (an unquoted colon in the title): each top-level key
is then read on its own. Nothing here is used to send anything; it only says when and where to tell.
"""

from __future__ import annotations

import calendar
import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from pathlib import PurePosixPath
from typing import Any

from scheduler.content import yamlfile
from scheduler.content.campaign import DEFAULTS_FILE, POSTS_DIR, Campaign
from scheduler.content.files import read_text, read_yaml_mapping

_TOP_KEY = re.compile(r"^[^\s#\-][^:]*:")  # a line that starts a top-level key
_WHEN = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2}):(\d{1,2}))?")


@dataclass(frozen=True)
class Salvaged:
    """What a broken post file seems to say; every field may be missing."""

    id: str | None = None
    channels: tuple[str, ...] = ()  # names channels.yml has
    due: datetime | None = None  # UTC, roughly: a date that does not exist is taken at its month's last day
    draft: bool = False
    schedule: Any = None  # its folder's series spec, when it has no publish_at of its own
    series: str | None = None  # the _defaults.yml that declared it


def salvage(campaign: Campaign, path: str, memo: dict[str, Any] | None = None) -> Salvaged:
    """What the post file at `path` (relative to the root) seems to say, read as leniently as can be;
    nothing when even that fails (the file's own problems are reported by scheduler.content.drafts)."""
    try:
        return _salvage(campaign, path, {} if memo is None else memo)
    except Exception:  # a guess must never stop the plan: the post is then known by its path alone
        return Salvaged()


def _salvage(campaign: Campaign, path: str, memo: dict[str, Any]) -> Salvaged:
    text, _ = read_text(campaign.root, campaign.root / path, path)
    own = _front_matter(text or "")
    inherited = _defaults(campaign, path, memo)
    values = {**inherited, **own}
    post_id = own.get("id")
    known = [c for c in _channels(own) if c in campaign.channels]
    # None it names is known (`channels: [mastodn]`): its folder's, so that it is still told of at its time.
    channels = known or [c for c in _channels(inherited) if c in campaign.channels]
    due = _rough_time(own.get("publish_at"), campaign.settings.timezone)
    schedule, series = (None, None)
    if due is None and "publish_at" not in own and "schedule" in inherited:
        schedule, series = inherited["schedule"]
    return Salvaged(
        id=post_id if isinstance(post_id, str) and post_id.strip() else None,
        channels=tuple(dict.fromkeys(channels)),
        due=due,
        draft=values.get("draft") is True,
        schedule=schedule,
        series=series,
    )


def _front_matter(text: str) -> dict[str, Any]:
    """The front matter's keys: as a whole if it parses, else each top-level key that parses alone."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), len(lines))
    block = lines[1:end]
    try:
        data = yamlfile.load("\n".join(block))
    except yamlfile.YamlError:
        data = None
    if isinstance(data, dict):
        return {str(k): v for k, v in data.items()}
    found: dict[str, Any] = {}
    starts = [i for i, line in enumerate(block) if _TOP_KEY.match(line)]
    for start, stop in zip(starts, [*starts[1:], len(block)], strict=False):
        # The key with what follows it, else its line alone: a broken line after `publish_at: ...`
        # (a tab, say) must not take the time with it.
        for chunk in (block[start:stop], block[start : start + 1]):
            try:
                part = yamlfile.load("\n".join(chunk))
            except yamlfile.YamlError:
                continue
            if isinstance(part, dict):
                found.update((str(k), v) for k, v in part.items())
            break
    return found


def _defaults(campaign: Campaign, path: str, memo: dict[str, Any]) -> dict[str, Any]:
    """The keys the _defaults.yml files above `path` set, deeper over shallower; `schedule` as (spec, file).
    `memo` keeps each file read (for the many posts of one broken folder)."""
    merged: dict[str, Any] = {}
    folder = PurePosixPath(POSTS_DIR)
    for part in ("", *PurePosixPath(path).relative_to(POSTS_DIR).parent.parts):
        folder = folder / part if part else folder
        relative = (folder / DEFAULTS_FILE).as_posix()
        data: dict[Any, Any]
        if folder == PurePosixPath(POSTS_DIR):
            data = campaign.root_defaults
        else:
            if relative not in memo:
                memo[relative] = read_yaml_mapping(campaign.root, relative)[0]
            data = memo[relative]
        for key, value in data.items():
            merged[str(key)] = (value, relative) if key == "schedule" else value
    return merged


def _channels(values: dict[str, Any]) -> list[str]:
    """`channels`, or a key that is a misspelling of it (`chanels: [mastodon]`)."""
    for key, value in values.items():
        if key == "channels" or difflib.get_close_matches(key, ["channels"], n=1, cutoff=0.75):
            if isinstance(value, list):
                return [v for v in value if isinstance(v, str)]
            if isinstance(value, str):
                return [value]
    return []


def _rough_time(value: Any, zone: tzinfo) -> datetime | None:
    """A publish_at as UTC, also when it is not quite right: a day past its month's end is taken as
    the month's last day, a time in a gap or fold as its earlier reading. None if it has no date."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else _earliest(value, zone)
    if isinstance(value, date):
        return _earliest(datetime.combine(value, time()), zone)
    if not isinstance(value, str):
        return None
    try:
        given = datetime.fromisoformat(value.strip())
        if given.tzinfo is not None:
            return given.astimezone(UTC)
    except ValueError:
        pass
    match = _WHEN.match(value)
    if match is None:
        return None
    year, month, day, hour, minute = (int(g) if g else 0 for g in match.groups())
    if not (1 < year < 9999 and 1 <= month <= 12):
        return None
    day = min(max(day, 1), calendar.monthrange(year, month)[1])
    return _earliest(datetime(year, month, day, min(hour, 23), min(minute, 59)), zone)


def _earliest(local: datetime, zone: tzinfo) -> datetime:
    readings = (local.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    return min(readings)


def default_id(path: str) -> str:
    """A post file's id when it gives none: its path under posts/ without .md."""
    return PurePosixPath(path).relative_to(POSTS_DIR).with_suffix("").as_posix()
