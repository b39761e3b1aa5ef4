"""Times as people read them: in the campaign's zone, with the zone's name (2027-11-15 09:00 CET).
The one format of every human-facing time: the CLI, the daemon's log lines, the dashboard."""

from __future__ import annotations

from datetime import datetime, tzinfo


def local_time(when: datetime | None, zone: tzinfo, seconds: bool = False) -> str | None:
    """`when` in `zone`, with the zone's name; None for None."""
    if when is None:
        return None
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")
