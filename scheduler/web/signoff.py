"""The sign-off page (`/signoff/<token>`): the one page without a login. It shows one post as it will go
out on each network, to the one person its link was made for, with "Akkoord" and "Niet zo: ..." (a note).

It shows nothing else: no link into the dashboard, no other post, nothing of the ledger. A link that does
not work (unknown, expired, revoked) gets one plain page and changes nothing. Every request is counted by
a throttle of its own; the token is never logged (`TokenFilter` on the server's log handlers)."""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
from dataclasses import replace
from datetime import datetime

from babel.dates import format_datetime
from flask import Blueprint, g, render_template, request
from flask.typing import ResponseReturnValue

from scheduler.content.plan import Entry
from scheduler.publish.planning import post_fingerprint
from scheduler.publish.store.signoffs import APPROVED, DECLINED, VOIDED, Decision, Request
from scheduler.signoff.tokens import looks_like_token
from scheduler.views import html
from scheduler.web.site import site, zone
from scheduler.web.throttle import Throttle
from scheduler.web.words import words

log = logging.getLogger(__name__)
blueprint = Blueprint("signoff", __name__)
# Requests to this page from one address in 15 minutes (a person reads, approves, reads again: a few);
# unknown links count too, so guessing is slow as well as hopeless.
THROTTLE = Throttle(per_pair=30, per_address=60)
THROTTLE_KEY = "#signoff"  # no account's name starts with # (scheduler.web.users)
NOTE_LIMIT = 2000
_TOKEN_IN_PATH = re.compile(r"(/signoff/)[^\s/?#\"']+")


class TokenFilter(logging.Filter):
    """Takes the token out of any log line that names the page's path (the app's or the server's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "/signoff/" in text:
            record.msg, record.args = _TOKEN_IN_PATH.sub(r"\1…", text), None
        if record.exc_info and not record.exc_text:  # formatted here, so the handler's formatter reuses it
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and "/signoff/" in record.exc_text:
            record.exc_text = _TOKEN_IN_PATH.sub(r"\1…", record.exc_text)
        return True


def guard_logs() -> None:
    """Put the TokenFilter on every handler of the root logger (where every logger's lines end up)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TokenFilter) for f in handler.filters):
            handler.addFilter(TokenFilter())


@blueprint.route("/signoff/<token>", methods=["GET", "POST"])
def page(token: str) -> ResponseReturnValue:
    W = words(g.campaign.settings.language)
    ledger = site().ledger
    if THROTTLE.attempt(ledger, THROTTLE_KEY, request.remote_addr or "unknown") > 0:
        return _plain(W["signoff_throttled"], 429)
    now = ledger.clock()
    found = ledger.signoffs.by_token(token, now) if looks_like_token(token) else None
    if found is None:
        return _plain(W["signoff_gone"], 404)
    plan = site().plan()
    entries = [e for e in plan.entries if e.draft.id == found.post]
    if not entries:
        return _plain(W["signoff_nothing"], 404)
    seen = post_fingerprint(entries)
    texts = _texts(entries)
    done, error = None, None
    if request.method == "POST":
        done, error = _decide(found, seen, texts, now)
    context = html.card_list(plan, entries, lambda card: replace(card, problems=(), errors=False))
    return render_template(
        "signoff.html",
        person=found.person,
        title=entries[0].draft.title or found.post,
        seen=seen,
        done=done,
        error=error,
        standing=_standing(found, seen),
        changes=_changes(found, seen, texts),
        note_limit=NOTE_LIMIT,
        **context,
    ), (200 if error is None else 400)


def _decide(found: Request, seen: str, texts: dict[str, str], now: datetime) -> tuple[str | None, str | None]:
    """Record the person's answer to what the page showed: (what is said back, or an error)."""
    W = words(g.campaign.settings.language)
    if request.form.get("seen") != seen:
        return None, W["signoff_changed_meanwhile"]
    decision = request.form.get("decision")
    note = request.form.get("note", "").strip()[:NOTE_LIMIT] or None
    if decision == "approve":
        site().ledger.signoffs.decide(found, APPROVED, seen, None, now, json.dumps(texts, ensure_ascii=False))
        log.info("sign-off: %s approved %s", found.person, found.post)
        return W["signoff_thanks"], None
    if decision == "decline":
        if note is None:
            return None, W["signoff_need_note"]
        site().ledger.signoffs.decide(found, DECLINED, seen, note, now)
        log.info("sign-off: %s declined %s", found.person, found.post)
        return W["signoff_noted"], None
    return None, W["refused"]


def _standing(found: Request, seen: str) -> str | None:
    """What this person decided before about this post, as the page says it (or None: nothing yet)."""
    W = words(g.campaign.settings.language)
    mine: list[Decision] = [d for d in site().ledger.signoffs.decisions_of(found.post) if d.person == found.person]
    if not mine:
        return None
    last = mine[-1]
    when = _local(last.at)
    if last.decision == DECLINED:
        return W["signoff_was_declined"].format(when=when, note=last.note or "")
    if last.decision in (APPROVED, VOIDED):
        approved = next((d for d in reversed(mine) if d.decision == APPROVED), last)
        if approved.fingerprint == seen:
            return W["signoff_was_approved"].format(when=_local(approved.at))
        return W["signoff_was_changed"].format(when=_local(approved.at))
    return None


def _texts(entries: list[Entry]) -> dict[str, str]:
    """What a person reads of each send: its text (each thread part), and each image with its alt text
    and a short hash of its bytes (a new photo under the same name shows as a change)."""
    found = {}
    for entry in entries:
        post = entry.post
        if post is None:
            continue
        images = []
        for item in post.media:
            try:
                digest = hashlib.sha256(item.path.read_bytes()).hexdigest()[:8]
            except OSError:
                digest = "?"
            images.append(f"[{item.path.name} {digest}: {item.alt}]")
        found[entry.channel.name] = "\n\n".join([*post.thread, *images])
    return found


def _changes(found: Request, seen: str, texts: dict[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Since this person's last approval, if the text changed: per channel, its words as (kind, words)
    with kind "" (the same), "del" (gone) or "ins" (new)."""
    mine = [d for d in site().ledger.signoffs.decisions_of(found.post) if d.person == found.person]
    approved = next((d for d in reversed(mine) if d.decision == APPROVED), None)
    if approved is None or approved.fingerprint == seen or not approved.seen:
        return []
    before: dict[str, str] = json.loads(approved.seen)
    changed = []
    for channel in sorted(set(before) | set(texts)):
        old, new = before.get(channel, "").split(" "), texts.get(channel, "").split(" ")
        if old == new:
            continue
        words: list[tuple[str, str]] = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
            if tag == "equal":
                words.append(("", " ".join(old[i1:i2])))
                continue
            if i2 > i1:
                words.append(("del", " ".join(old[i1:i2])))
            if j2 > j1:
                words.append(("ins", " ".join(new[j1:j2])))
        changed.append((channel, words))
    return changed


def _local(when: datetime) -> str:
    return str(format_datetime(when.astimezone(zone()), "EEE d MMM y HH:mm", locale=g.campaign.settings.language))


def refused() -> ResponseReturnValue:
    """A form that expired or came from elsewhere (CSRF): said plainly, nothing changed."""
    if g.get("campaign") is None:
        g.campaign = site().campaign()
    return _plain(words(g.campaign.settings.language)["refused"], 400)


def _plain(text: str, status: int) -> ResponseReturnValue:
    return render_template("signoff_plain.html", text=text), status
