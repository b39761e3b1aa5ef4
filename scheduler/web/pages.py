"""The dashboard's pages: Now (with its live part and the small JSON it polls), Calendar, and a post."""

from __future__ import annotations

import hashlib
import time as time_module
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any

from babel.dates import format_date, format_datetime
from flask import Blueprint, Response, abort, g, render_template, request

from scheduler.content.plan import Unplaced
from scheduler.content.problems import Problem
from scheduler.publish import holds
from scheduler.publish.ledger import Action, Delivery
from scheduler.publish.overview import PauseInForce, overview, pauses_in_force
from scheduler.publish.store.signoffs import Standing
from scheduler.views import html
from scheduler.web import feed, reasons
from scheduler.web.site import site, user, zone
from scheduler.web.words import words
from scheduler.words import Said, translator

blueprint = Blueprint("pages", __name__)
RECENT_ACTIONS = 10


def local(when: datetime | None) -> str:
    """A time as people read it, in the campaign's zone and language ("ma 15 nov. 2027 09:00"), "" for none."""
    if when is None:
        return ""
    return str(format_datetime(when.astimezone(zone()), "EEE d MMM y HH:mm", locale=g.campaign.settings.language))


def web_url(url: str | None) -> str:
    """A network's address, only if it is one (never a javascript: or data: link on the page)."""
    return url if url and url.startswith(("https://", "http://")) else ""


def person(who_at_host: str) -> str:
    """Who acted, as people say it: "anna (dashboard)", or "anna on laptop" for the command line."""
    _ = translator(g.campaign.settings.language).gettext
    who, _at, host = who_at_host.partition("@")
    if host.endswith("(web)"):
        return _("{name} (dashboard)").format(name=who)
    return _("{name} on {host}").format(name=who, host=host) if host else who


def pause_line(item: PauseInForce) -> str:
    _ = translator(g.campaign.settings.language).gettext
    pause = item.pause
    values = {"channel": pause.scope, "since": local(pause.since), "reason": pause.reason}
    if item.by:
        values["who"] = person(item.by)
        if pause.scope == "*":
            return _("Everything is paused since {since} by {who}: {reason}").format(**values)
        return _("{channel} is paused since {since} by {who}: {reason}").format(**values)
    if pause.scope == "*":
        return _("Everything is paused since {since}: {reason}").format(**values)
    return _("{channel} is paused since {since}: {reason}").format(**values)


@blueprint.app_template_global("action_line")
def action_line(action: Action) -> str:
    """One thing done by hand, in the campaign's language (the ledger's summary is the CLI's English)."""
    _ = translator(g.campaign.settings.language).gettext
    everything = _("everything")
    values = {
        "who": person(f"{action.who}@{action.host}"),
        "post": post_title(action.post or ""),
        "channel": action.channel or everything,
        "what": ", ".join(
            everything if w.strip() == "everything" else w.strip() for w in (action.detail or "").split(",")
        )
        if action.detail
        else _("nothing"),
    }
    if action.action == "pause":
        text = _("{who} paused {channel}").format(**values)
    elif action.action == "resume":
        text = _("{who} resumed {what}").format(**values)
    elif action.action == "retry":
        text = _("{who} had {post} sent again on {channel}") if action.channel else _("{who} had {post} sent again")
        text = text.format(**values)
    elif (action.detail or "").startswith("published"):
        text = _("{who} marked {post} on {channel} as out").format(**values)
    else:
        text = _("{who} marked {post} on {channel} as not out").format(**values)
    return f"{text}: {action.reason}" if action.reason else text


@blueprint.app_template_global("post_title")
def post_title(post: str) -> str:
    """A post's title from the files (the last plan built), its id where it has none."""
    titles: dict[str, str] | None = g.get("titles")
    if titles is None:  # once a request: a page lists many rows
        plan = site().recent_plan()
        titles = {e.draft.id: e.draft.title for e in plan.entries if e.draft.title} if plan is not None else {}
        g.titles = titles
    return titles.get(post) or post


@blueprint.app_template_global("explain")
def explain(reason: str, held_post: str | None = None) -> reasons.Reason:
    """`reason` for people; `held_post`: the post of a send held now, whose sign-off hold (recorded in English)
    is said in the campaign's language from where its sign-off stands in the ledger."""
    language = g.campaign.settings.language
    found = reasons.explain(reason, language)
    if held_post is None or not holds.is_signoff_hold(reason):
        return found
    said_of: dict[str, Said | None] = g.setdefault("signoff_said", {})  # once a request: a page lists many rows
    if held_post not in said_of:
        said_of[held_post] = site().ledger.signoffs.held_said(held_post, zone())
    said = said_of[held_post]
    return found if said is None else replace(found, summary=said.said_in(language))


@blueprint.app_template_global("signoff_hold")
def signoff_hold(reason: str | None) -> bool:
    return holds.is_signoff_hold(reason)


@blueprint.app_template_global("signoff_words")
def signoff_words(standing: Standing) -> str:
    """Why a post waits for sign-off, in the campaign's language, times in its zone."""
    why = standing.state.why_held(zone(), standing.post)
    return standing.reason or "" if why is None else why.said_in(g.campaign.settings.language)


@blueprint.app_template_filter("said")
def said(problem: Problem) -> str:
    """A problem's message in the campaign's language (English where it is not marked for translation yet)."""
    return problem.said_in(g.campaign.settings.language)


@blueprint.app_template_global("outcome_word")
def outcome_word(outcome: str) -> str:
    _ = translator(g.campaign.settings.language).gettext
    return {
        "claimed": _("taken"),
        "sending": _("sending"),
        "published": _("sent"),
        "retry": _("to be tried again"),
        "failed": _("failed"),
        "in_doubt": _("in doubt"),
        "missed": _("missed"),
        "paused": _("stopped by a pause"),
        "held": _("held"),
        "interrupted": _("interrupted"),
    }.get(outcome, outcome)


@blueprint.app_template_filter("local")
def _local_filter(when: datetime | None) -> str:
    return local(when)


@blueprint.app_template_filter("web_url")
def _web_url_filter(url: str | None) -> str:
    return web_url(url)


def _now_context() -> dict[str, Any]:
    ledger = site().ledger
    now = ledger.clock()
    midnight = datetime.combine(now.astimezone(zone()).date(), time(), tzinfo=zone()).astimezone(UTC)
    view = overview(ledger, midnight)
    actions = ledger.operators.actions()[-RECENT_ACTIONS:][::-1]
    return {
        "ov": view,
        "unplanned": _unplanned(),
        "pause_lines": [pause_line(p) for p in view.pauses],
        "everything_paused": any(p.pause.scope == "*" for p in view.pauses),
        "channels": sorted(g.campaign.channels),
        "actions": actions,
        "mark": _mark(),
        "may_act": user().may_act,
        "signoffs": [s for s in ledger.signoffs.standings() if s.reason is not None],
    }


@blueprint.route("/")
def now_page() -> str:
    return render_template("now.html", **_now_context())


@blueprint.route("/now/live")
def now_live() -> str:
    """The live part of Now alone, for the page's script to swap in when the ledger changed."""
    return render_template("now_live.html", **_now_context())


@blueprint.route("/now.json")
def now_json() -> dict[str, Any]:
    """Small and cheap, polled every second: a mark that changes with the ledger, and the pauses."""
    ledger = site().ledger
    unplanned = [{"path": u.path, "post": u.key, "problems": [str(p) for p in u.problems]} for u in _unplanned()]
    return {"mark": _mark(), "paused": [pause_line(p) for p in pauses_in_force(ledger)], "cannot_be_planned": unplanned}


def _mark() -> str:
    """The ledger's change mark, and the minute: a due time moved by a file edit changes no state, so the
    page redraws at least once a minute as well, and when a file breaks or is fixed. Only its digest leaves:
    the page compares marks, and the mark itself (counts, row ids) is more than a page shows."""
    unplanned = ",".join(u.path for u in _unplanned())
    mark = f"{site().ledger.views.change_mark()}|{int(time_module.time() // 60)}|{unplanned}"
    return hashlib.sha256(mark.encode("utf-8")).hexdigest()[:20]


def _unplanned() -> list[Unplaced]:
    """The posts that cannot be planned, from the files (told of before any daemon ran), as the last plan
    built says: Now never waits for a plan (a stale one is rebuilt in the background for the next poll)."""
    plan = site().recent_plan()
    return holds.cannot_be_planned(plan) if plan is not None else []


def _decorate(rows: dict[tuple[str, str], Delivery]) -> Any:
    W = words(g.campaign.settings.language)

    def decorate(card: html.Card) -> html.Card:
        row = rows.get((card.post, card.channel))
        if row is None:
            return card
        return replace(card, state=row.state.value, state_text=W[f"state_{row.state}"], url=web_url(row.receipt_url))

    return decorate


@blueprint.route("/calendar")
def calendar_page() -> str:
    """One month of the HTML preview's calendar (month grid and weeks), each card with its ledger state."""
    plan, by_month = site().plan_and_months()
    months = sorted(by_month)
    today = f"{site().ledger.clock().astimezone(zone()):%Y-%m}"
    wanted = request.args.get("month", "")
    if wanted not in by_month:
        wanted = next((m for m in months if m >= today), months[-1] if months else today)
    shown = by_month.get(wanted, [])
    first = date.fromisoformat(f"{wanted}-01")
    start = datetime.combine(first, time(), tzinfo=zone())
    end = datetime.combine((first + timedelta(days=32)).replace(day=1), time(), tzinfo=zone())
    rows = site().ledger.views.rows(due_between=(start.astimezone(UTC), end.astimezone(UTC)))
    context = html.calendar(plan, shown, _decorate({(r.post, r.channel): r for r in rows}))
    language = g.campaign.settings.language
    titles = [(key, str(format_date(date.fromisoformat(f"{key}-01"), "LLLL y", locale=language))) for key in months]
    return render_template(
        "calendar_page.html", shown_months=titles, month_key=wanted, feed_link=feed.link(user()), **context
    )


@blueprint.route("/posts/<path:post>")
def post_page(post: str) -> str:
    """A post: its text per channel as it goes out, its problems, its state and every attempt and action."""
    plan = site().plan()
    entries = [e for e in plan.entries if e.draft.id == post]
    rows = site().ledger.views.rows(post=post)
    if not entries and not rows:
        abort(404)
    context = html.card_list(plan, entries, _decorate({(r.post, r.channel): r for r in rows}))
    return render_template(
        "post.html",
        post=post,
        title=entries[0].draft.title if entries else None,
        in_plan=bool(entries),
        rows=rows,
        attempts=site().ledger.views.history(post),
        actions=site().ledger.operators.actions(post),
        may_act=user().may_act,
        **context,
    )


@blueprint.route("/preview.css")
def preview_css() -> Response:
    """The HTML preview's own style sheet, so the calendar looks the same (served, not copied)."""
    css = resources.files("scheduler.views").joinpath("templates/preview.css").read_text(encoding="utf-8")
    return Response(css, mimetype="text/css", headers={"Cache-Control": "max-age=300"})
