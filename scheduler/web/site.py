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
PLAN_WAIT = 20.0  # seconds a request waits for a plan being built before it answers "being prepared"
# Requests that may wait for a plan at once. The others answer at once (with the last plan, or "being
# prepared"), so however long a plan takes, the server's other threads stay free for /health, Now and
# the pause button, which read the ledger and never wait for a plan.
PLAN_WAITERS = 2


class PlanPending(Exception):
    """The plan is being built, and this request could not wait for it (or waited PLAN_WAIT in vain)."""


@dataclass
class Site:
    """What every request works with: the campaign's files, its ledger and the accounts.

    The ledger is read afresh by every request. The files are not: the campaign settings are read again
    when one of their files changes, and the plan (seconds to check for 10,000 posts, even with the
    cache) at most every PLAN_FRESH seconds, so the calendar shows a file edit within that. One plan is
    built at a time, in a thread of its own; at most PLAN_WAITERS requests wait for it (see PlanPending)."""

    root: Path
    ledger: Ledger
    users: Users
    throttle: Throttle = field(default_factory=Throttle)
    host: str = field(default_factory=socket.gethostname)
    cache: PlanCache = field(default_factory=PlanCache)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _plan_lock: threading.Lock = field(default_factory=threading.Lock)
    _waiters: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(PLAN_WAITERS))
    _campaign: tuple[Any, Campaign] | None = None
    _plan: tuple[float, Plan, dict[str, list[Entry]]] | None = None
    _building: _Build | None = None

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

    def plan_and_months(self) -> tuple[Plan, dict[str, list[Entry]]]:
        """plan(), and its sends (drafts left out, as in the preview) by local month (2027-11), in order."""
        _, plan, by_month = self._planned()
        return plan, by_month

    def recent_plan(self) -> Plan | None:
        """The last plan built, at once: never waits (a stale one is rebuilt in the background); None before
        the first is ready. For the pages that must answer whatever a plan costs (Now, now.json)."""
        last, _ = self._fresh_or_building()
        return last[1] if last is not None else None

    def _fresh_or_building(self) -> tuple[tuple[float, Plan, dict[str, list[Entry]]] | None, _Build | None]:
        """The last plan, and the build under way if it is older than PLAN_FRESH (started here if none is)."""
        with self._plan_lock:
            last = self._plan
            if last is not None and time.monotonic() - last[0] <= PLAN_FRESH:
                return last, None
            building = self._building
            if building is None:
                building = self._building = _Build()
                threading.Thread(target=self._build, args=(building,), name="plan", daemon=True).start()
            return last, building

    def _planned(self) -> tuple[float, Plan, dict[str, list[Entry]]]:
        last, building = self._fresh_or_building()
        if building is None:
            assert last is not None
            return last
        if self._waiters.acquire(blocking=False):
            try:
                building.done.wait(PLAN_WAIT)
            finally:
                self._waiters.release()
        if building.done.is_set():
            if building.failed is not None:
                raise building.failed
            assert building.result is not None
            return building.result
        if last is not None:  # a slow plan, or too many waiting: the last one, rather than nothing
            return last
        raise PlanPending

    def _build(self, building: _Build) -> None:
        """Build the plan (in the thread _planned started) and hand it to whoever waits."""
        try:
            plan = build(self.root, cache=self.cache)
            zone = plan.campaign.settings.timezone
            by_month: dict[str, list[Entry]] = {}
            for entry in plan.select():
                by_month.setdefault(f"{entry.due.astimezone(zone):%Y-%m}", []).append(entry)
            building.result = (time.monotonic(), plan, by_month)
        except Exception as exc:  # given to the requests that wait, as if they had built it themselves
            building.failed = exc
        with self._plan_lock:
            if building.result is not None:
                self._plan = building.result
            self._building = None
            building.done.set()

    def actor(self, user: User) -> Actor:
        """The web user's name is who acted, as CAMPAIGN_USER is for the CLI."""
        return Actor(user.name, f"{self.host} (web)")


@dataclass
class _Build:
    """One plan being built: done when it is, with the plan or the error."""

    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[float, Plan, dict[str, list[Entry]]] | None = None
    failed: Exception | None = None


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
