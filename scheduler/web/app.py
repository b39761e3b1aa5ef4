"""The web dashboard (`campaign serve`): a Flask app on the same ledger and files as the CLI.

This module makes the app and guards it: who is logged in (signed session cookies), who may act
(operators), CSRF tokens on every POST (Flask-WTF), failed logins slowed down, and the security
headers of every response. A login is a session recorded in the ledger: the signed cookie carries its
id, and a logout (or its hours running out) ends it for every copy of the cookie. The pages are in
scheduler.web.pages, the actions in scheduler.web.actions; both reach the ledger, the files and the
accounts through `site()`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, current_app, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, PackageLoader

from scheduler.content.campaign import Campaign
from scheduler.errors import ConfigError, LedgerError
from scheduler.web.proxy import LOOPBACK, Network, ProxyGate
from scheduler.web.site import PlanPending, Site, local_path, message, site
from scheduler.web.words import words

log = logging.getLogger(__name__)
MIN_SECRET = 32  # characters of CAMPAIGN_SESSION_SECRET

# No inline script or style: the pages load /static files only; images may be the cards' data: URIs.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers without frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Over HTTPS only (a browser ignores it over HTTP). No includeSubDomains: other sites of the organisation
# may live on sibling names, and this one has no say over them.
HSTS = "max-age=31536000"


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request came over HTTPS (behind a trusted proxy:
    as X-Forwarded-Proto says)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure or app.config["SESSION_COOKIE_SECURE"])


def create_app(
    site_: Site, secret: str, *, trust_proxy: bool | Iterable[Network] = False, session_hours: int = 12
) -> Flask:
    """The dashboard over `site_`; `secret` signs the session cookies (at least MIN_SECRET characters).
    `trust_proxy`: the networks of the proxies whose X-Forwarded-For/-Proto/-Host are believed (True: this
    host's loopback); from any other peer those headers are dropped."""
    if len(secret) < MIN_SECRET:
        raise ValueError(f"the session secret needs at least {MIN_SECRET} characters")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="campaign_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,  # a login lasts session_hours from the login, not from the last click
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session that holds it
        # Flask-WTF's strict mode checks the Referer on HTTPS, which Referrer-Policy: no-referrer never
        # sends; the token and SameSite=Strict are the defence.
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.session_interface = _SessionInterface()
    app.jinja_loader = ChoiceLoader(  # the calendar and card templates of the HTML preview, not a copy
        [PackageLoader("scheduler.web", "templates"), PackageLoader("scheduler.views", "templates")]
    )
    app.extensions["campaign"] = site_
    app.config["SESSION_LIFETIME_S"] = session_hours * 3600
    CSRFProtect(app)
    networks = LOOPBACK if trust_proxy is True else () if trust_proxy is False else tuple(trust_proxy)
    app.wsgi_app = ProxyGate(app.wsgi_app, networks)  # type: ignore[method-assign]

    from scheduler.web import actions, feed, pages, signoff

    app.register_blueprint(pages.blueprint)
    app.register_blueprint(feed.blueprint)
    app.register_blueprint(actions.blueprint)
    app.register_blueprint(signoff.blueprint)
    app.before_request(_who_is_it)
    app.after_request(_headers)
    app.context_processor(_page_context)
    app.register_error_handler(CSRFError, _refused)
    app.register_error_handler(403, _forbidden)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(LedgerError, _ledger_away)
    app.register_error_handler(ConfigError, _accounts_broken)
    app.register_error_handler(PlanPending, _plan_pending)
    app.add_url_rule("/login", "login", _login, methods=["GET", "POST"])
    app.add_url_rule("/logout", "logout", _logout, methods=["POST"])
    app.add_url_rule("/health", "health", _health)
    return app


def _page_context() -> dict[str, Any]:
    campaign: Campaign | None = g.get("campaign")
    language = campaign.settings.language if campaign else "en"
    return {"W": words(language), "lang": language, "me": g.get("user"), "campaign": campaign}


# The feed checks its own secret; the sign-off page its link's token (scheduler.web.signoff).
OPEN = frozenset({"login", "health", "static", "feed.subscribed", "signoff.page"})


def _who_is_it() -> ResponseReturnValue | None:
    """Every page but login, health and the static files needs a live session of an existing account."""
    if request.endpoint in {"health", "static", "pages.preview_css"}:
        return None
    g.campaign = site().campaign()
    g.user = None
    name, key, since, sid = session.get("user"), session.get("key"), session.get("since", 0), session.get("sid")
    if isinstance(name, str):
        found = site().users.get(name)
        fresh = isinstance(since, int | float) and time.time() - since < current_app.config["SESSION_LIFETIME_S"]
        # The cookie's own checks first (no database trip for a stale one), then: not logged out.
        if (
            found is not None
            and found.fingerprint == key
            and fresh
            and isinstance(sid, str)
            and site().ledger.logins.web_session_account(_digest(sid), datetime.now(UTC)) == found.name
        ):
            g.user = found
        else:
            session.clear()
    if g.user is None and request.endpoint not in OPEN:
        if request.path.endswith(".json"):
            return {"error": "not logged in"}, 401
        return redirect(url_for("login", next=local_path(request.full_path)))
    return None


def _headers(response: Any) -> Any:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def _digest(session_id: str) -> str:
    """What the ledger keeps of a session id: a reader of the database cannot make a cookie of it."""
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def _client(req: Request) -> str:
    return req.remote_addr or "unknown"


def _login() -> ResponseReturnValue:
    W = words(g.campaign.settings.language)
    target = local_path(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", error=None, next=target)
    name = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    wait = site().throttle.attempt(site().ledger, name, _client(request))
    if wait > 0:
        minutes = max(1, round(wait / 60))
        page = render_template("login.html", error=W["throttled"].format(minutes=minutes), next=target)
        return page, 429, {"Retry-After": str(int(wait) + 1)}
    found = site().users.verify(name, password) if name and password else None
    if found is None:
        return render_template("login.html", error=W["wrong_login"], next=target), 401
    site().throttle.succeeded(site().ledger, name, _client(request))
    session.clear()  # a fresh session (and CSRF token) for the new login
    session.permanent = True
    sid, now = secrets.token_urlsafe(32), datetime.now(UTC)
    lifetime = timedelta(seconds=current_app.config["SESSION_LIFETIME_S"])
    site().ledger.logins.start_web_session(_digest(sid), found.name, now, now + lifetime)
    session.update(user=found.name, key=found.fingerprint, since=int(now.timestamp()), sid=sid)
    return redirect(target)


def _logout() -> ResponseReturnValue:
    sid = session.get("sid")
    if isinstance(sid, str):
        site().ledger.logins.end_web_session(_digest(sid), datetime.now(UTC))
    session.clear()
    return redirect(url_for("login"))


def _health() -> ResponseReturnValue:
    """For the platform: 200 while the ledger answers, 503 while it does not; no details either way."""
    try:
        site().ledger.operators.pauses()
    except LedgerError:
        return {"status": "unavailable"}, 503
    return {"status": "ok"}


def _ledger_away(_error: Exception) -> ResponseReturnValue:
    """The database cannot be reached (or refused): say so, never show its error (it may name a host)."""
    if request.path.endswith(".json"):
        return {"error": "the ledger cannot be reached"}, 503
    return message(503, "ledger_away")


def _plan_pending(_error: Exception) -> ResponseReturnValue:
    """The plan is still being built (a big or slow campaign): come back in a moment; nothing waits for it."""
    again = {"Retry-After": "5"}
    if request.path.endswith(".ics"):
        return "the calendar is being prepared; try again in a moment\n", 503, again
    if g.get("campaign") is None:
        g.campaign = site().campaign()
    return render_template("message.html", text=words(g.campaign.settings.language)["plan_pending"]), 503, again


def _accounts_broken(error: Exception) -> ResponseReturnValue:
    """The accounts file cannot be read: nobody gets in until it is fixed; the log says where (file and line)."""
    log.error("%s", error)
    return message(503, "accounts_broken")


def _refused(_error: Exception) -> ResponseReturnValue:
    if request.endpoint == "signoff.page":  # its own plain page: no link into the dashboard
        from scheduler.web.signoff import refused

        return refused()
    return message(400, "refused")


def _forbidden(_error: Exception | None) -> ResponseReturnValue:
    return message(403, "forbidden")


def _not_found(_error: Exception) -> ResponseReturnValue:
    return message(404, "not_found")
