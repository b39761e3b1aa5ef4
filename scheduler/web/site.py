"""What the dashboard's views share: the Site (files, ledger, accounts) of the request, who is logged in,
the campaign's zone, and the guard of the actions."""

from __future__ import annotations

import socket
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
from scheduler.content.cache import PlanCache
from scheduler.content.campaign import Campaign
from scheduler.content.plan import Plan, build
from scheduler.publish.ledger import Actor, Ledger
from scheduler.web.throttle import Throttle
from scheduler.web.users import User, Users
from scheduler.web.words import words

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


@dataclass
class Site:
    """What every request works with: the campaign's files, its ledger and the accounts."""

    root: Path
    ledger: Ledger
    users: Users
    throttle: Throttle = field(default_factory=Throttle)
    host: str = field(default_factory=socket.gethostname)
    cache: PlanCache = field(default_factory=PlanCache)

    def campaign(self) -> Campaign:
        return campaign_file.load(self.root)[0]

    def plan(self) -> Plan:
        """The plan as the files say now; only what changed since the last request is read again."""
        return build(self.root, cache=self.cache)

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
    """`target` if it is a path on this site, else "/" (no open redirect through ?next=)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target.rstrip("?") or "/"


def message(status: int, key: str) -> ResponseReturnValue:
    if g.get("campaign") is None:
        g.campaign = site().campaign()
    return render_template("message.html", text=words(g.campaign.settings.language)[key]), status
