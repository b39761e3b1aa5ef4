"""A channel's credential as the network describes it: who the channel posts as, and when (if ever)
its token stops working. `campaign channels check` shows it and the daemon alerts before the end.

An adapter reports a `TokenHealth` from `Channel.token_health()`, or None when it cannot tell (never a
guess). `standing` turns one into ok / warning / error at a moment: within WARN_BEFORE of the end a
warning, ended or revoked an error.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler import secrets

WARN_BEFORE = timedelta(days=14)
#: The daemon alerts once at each of these distances before a token expires.
ALERT_MARKS = (14, 3, 1)


@dataclass(frozen=True)
class TokenHealth:
    """What the network says of a channel's credential."""

    posts_as: str  # who posts: the Page, the account, the bot
    renew: str  # the step a person takes to renew it (names the setting or the secret)
    expires: datetime | None = None  # aware; None: does not expire (`never`) or the network does not say
    never: bool = False  # the credential has no end date (it ends only when revoked)
    revoked: bool = False  # the network says it no longer works (revoked, expired, invalid)
    note: str = ""  # what else matters: which date this is, why the end is unknown


class Level(enum.IntEnum):
    OK = 0
    WARNING = 1
    ERROR = 2


def standing(health: TokenHealth, now: datetime) -> tuple[Level, str]:
    """How the credential stands at `now`, and the words for a person."""
    note = f" ({health.note})" if health.note else ""
    if health.revoked:
        return Level.ERROR, f"token expired or revoked{note}; {health.renew}"
    if health.expires is None:
        return Level.OK, ("token does not expire" if health.never else "token expiry not known") + note
    left = health.expires - now
    when = f"{health.expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if left <= timedelta(0):
        return Level.ERROR, f"token expired on {when}{note}; {health.renew}"
    if left <= WARN_BEFORE:
        return Level.WARNING, f"token expires on {when}, in {_days(left)}{note}; {health.renew}"
    return Level.OK, f"token expires on {when}, in {_days(left)}{note}"


def dated(health: TokenHealth, lasts: timedelta | None, token_setting: Any) -> TokenHealth:
    """`health` with an end where the network does not tell it but documents how long a token lasts
    (`Channel.token_lasts`): the latest it can end, counted from when its secrets file was last written
    (by `campaign channels refresh`, the daemon, or a person). Unchanged where the end is known, the token
    never ends, it comes from the environment (no date to count from), or `lasts` is None."""
    name = secrets.reference_of(token_setting)
    if health.expires is not None or health.never or health.revoked or lasts is None or name is None:
        return health
    if name in os.environ:
        return health
    path = secrets.secrets_dir() / name
    try:
        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return health
    note = f"at the latest: {name} was written on {written:%Y-%m-%d} and a new token lasts {lasts.days} days"
    return replace(health, expires=written + lasts, note=note)


def mark(health: TokenHealth, now: datetime) -> int | None:
    """The nearest alert mark (days before the end) that `now` has passed, or None: not yet, no end, or
    already ended (an ended token is an error, alerted as such)."""
    if health.revoked or health.expires is None or health.expires <= now:
        return None
    passed = [days for days in ALERT_MARKS if health.expires - now <= timedelta(days=days)]
    return min(passed) if passed else None


def _days(left: timedelta) -> str:
    days = left.days
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''}"
    hours = max(1, int(left.total_seconds() // 3600))
    return f"{hours} hour{'s' if hours != 1 else ''}"
