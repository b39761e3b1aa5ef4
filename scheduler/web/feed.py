"""The plan as a calendar a calendar app can subscribe to (issue #12): every send an event, the same ICS
as `campaign export --format ics` (scheduler.views.ics).

Calendar apps cannot log in with a form, so each account has a secret link of its own:
`/feed/<name>/<token>.ics`, the token an HMAC of the account (its name and password hash) under the
session secret. It shows only the calendar; a changed password, a removed account or a new
CAMPAIGN_SESSION_SECRET ends it. Logged in, `/calendar.ics` gives the same file.
"""

from __future__ import annotations

import hashlib
import hmac
import threading

from flask import Blueprint, Response, abort, current_app, url_for

from scheduler.content.plan import Plan
from scheduler.views import ics
from scheduler.web.site import site, user
from scheduler.web.users import User

blueprint = Blueprint("feed", __name__)
_made: tuple[Plan, str] | None = None  # the last plan's calendar: 40,000 events take seconds to write
_lock = threading.Lock()


def token(account: User) -> str:
    """The secret of `account`'s calendar link."""
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    message = f"calendar feed\n{account.name}\n{account.password_hash}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:40]


def link(account: User) -> str:
    """The full address of `account`'s calendar link (what a calendar app subscribes to)."""
    return url_for("feed.subscribed", name=account.name, secret=token(account), _external=True)


def _calendar() -> Response:
    global _made
    plan = site().plan()
    with _lock:
        if _made is None or _made[0] is not plan:
            _made = (plan, ics.calendar(plan, plan.select(), stamp=site().ledger.clock()))
        text = _made[1]
    return Response(
        text,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'inline; filename="campaign.ics"', "Cache-Control": "private, max-age=60"},
    )


@blueprint.route("/calendar.ics")
def logged_in() -> Response:
    """For a logged-in user (the before-request check saw to that)."""
    user()
    return _calendar()


@blueprint.route("/feed/<name>/<secret>.ics")
def subscribed(name: str, secret: str) -> Response:
    """Without a session: the account's secret link. Anything wrong is a plain 404, saying nothing."""
    account = site().users.get(name)
    if account is None or not hmac.compare_digest(token(account), secret):
        abort(404)
    return _calendar()
