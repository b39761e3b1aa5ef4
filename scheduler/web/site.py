"""What the dashboard's views share: the Site (files, ledger, accounts) of the request, who is logged in,
the campaign's zone, and the guard of the actions."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import current_app, g, render_template
from flask.typing import ResponseReturnValue

from scheduler.content import campaign as campaign_file
from scheduler.content.cache import PlanCache, file_key
from scheduler.content.campaign import CHANNELS_FILE, DEFAULTS_FILE, POSTS_DIR, Campaign
from scheduler.content.hashtags import FILE as HASHTAGS_FILE
from scheduler.content.plan import Entry, Plan, build
from scheduler.publish.ledger import Actor, Ledger
from scheduler.web.throttle import Throttle
from scheduler.web.users import User, Users
from scheduler.web.words import words

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


PLAN_FRESH = 10.0  # seconds a plan serves the calendar and post pages before the files are looked at again


@dataclass
class Site:
    """What every request works with: the campaign's files, its ledger and the accounts.

    The ledger is read afresh by every request. The files are not: the campaign settings are read again
    when one of their files changes, and the plan (seconds to check for 10,000 posts, even with the
    cache) at most every PLAN_FRESH seconds, so the calendar shows a file edit within that."""

    root: Path
    ledger: Ledger
    users: Users
    throttle: Throttle = field(default_factory=Throttle)
    host: str = field(default_factory=socket.gethostname)
    cache: PlanCache = field(default_factory=PlanCache)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _plan_lock: threading.Lock = field(default_factory=threading.Lock)
    _campaign: tuple[Any, Campaign] | None = None
    _plan: tuple[float, Plan, dict[str, list[Entry]]] | None = None

    def campaign(self) -> Campaign:
        files = (CHANNELS_FILE, f"{POSTS_DIR}/{DEFAULTS_FILE}", HASHTAGS_FILE)
        key = tuple(file_key(self.root / name)[0] for name in files)
        with self._lock:
            if self._campaign is None or self._campaign[0] != key:
                self._campaign = (key, campaign_file.load(self.root)[0])
            return self._campaign[1]

    def plan(self) -> Plan:
        """The plan as the files said at most PLAN_FRESH seconds ago."""
        return self._planned()[1]

    def months(self) -> dict[str, list[Entry]]:
        """The plan's sends (drafts left out, as in the preview) by local month (2027-11), in order."""
        return self._planned()[2]

    def _planned(self) -> tuple[float, Plan, dict[str, list[Entry]]]:
        with self._plan_lock:
            if self._plan is None or time.monotonic() - self._plan[0] > PLAN_FRESH:
                plan = build(self.root, cache=self.cache)
                zone = plan.campaign.settings.timezone
                by_month: dict[str, list[Entry]] = {}
                for entry in plan.select():
                    by_month.setdefault(f"{entry.due.astimezone(zone):%Y-%m}", []).append(entry)
                self._plan = (time.monotonic(), plan, by_month)
            return self._plan

    def actor(self, user: User) -> Actor:
        """The web user's name is who acted, as CAMPAIGN_USER is for the CLI."""
        return Actor(user.name, f"{self.host} (web)")


def site() -> Site:
    return cast(Site, current_app.extensions["campaign"])


def user() -> User:
    return cast(User, g.user)


def zone() -> tzinfo:
    zone_: tzinfo = g.campaign.settings.timezone
    return zone_


def operator_only(view: F) -> F:
    """A viewer's request to an action is refused with 403 (after the CSRF check, which runs first)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not user().may_act:
            return message(403, "forbidden")
        return view(*args, **kwargs)

    return cast(F, guarded)


def local_path(target: str | None) -> str:
    """`target` if it is a path on this site, else "/" (no open redirect through ?next=; no control
    character, which no header may carry)."""
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target.rstrip("?") or "/"


def message(status: int, key: str) -> ResponseReturnValue:
    if g.get("campaign") is None:
        g.campaign = site().campaign()
    return render_template("message.html", text=words(g.campaign.settings.language)[key]), status
