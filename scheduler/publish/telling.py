"""What the team is told when the files and the ledger say something is wrong: a broken settings file,
a post that cannot be planned, a held send whose time came, a sign-off that is voided or still waited for.
Each alert once, across restarts and daemons: the ledger keeps what was said."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial

from scheduler.content.plan import Unplaced
from scheduler.content.problems import Problem
from scheduler.publish import holds, wording
from scheduler.publish.alerts import Alerter
from scheduler.publish.ledger import Ledger
from scheduler.publish.planning import unplanned_message
from scheduler.publish.policy import Outcome
from scheduler.publish.states import State
from scheduler.publish.store.sends import Delivery
from scheduler.publish.wording import names
from scheduler.words import N_, Said

log = logging.getLogger(__name__)


def files(
    ledger: Ledger,
    alerter: Alerter,
    reading: holds.Reading,
    now: datetime,
    unplaced: Iterable[Unplaced] = (),
    zone: tzinfo = UTC,
    *,
    held_ahead: Iterable[holds.HeldAhead] = (),
) -> None:
    """One alert per settings file that became broken (or broken differently), per post file in
    `unplaced` (holds.cannot_be_planned), and per planned post its own errors will hold at its time
    (`held_ahead`: told now, so it can be fixed before then); a log line when fixed."""
    by_file: dict[str, list[Problem]] = {}
    for problem in reading.settings_problems():
        by_file.setdefault(problem.path, []).append(problem)
    told: dict[str, Said] = {path: _listed(problems) for path, problems in by_file.items()}
    posts = {u.path: unplanned_message(u, zone) for u in unplaced}
    ahead = {h.path: _ahead(h, zone) for h in held_ahead}
    told |= posts | ahead
    # What was told is kept as written, in the campaign's language: the ledger compares it the next time.
    current = {path: alerter.say(said) for path, said in told.items()}
    # A post file below a broken settings file is not checked meanwhile: what was said of it stands
    # (it is neither fixed nor told of again when the settings file is).
    new, fixed = ledger.alerts.broken_files(
        current, now, unchecked=lambda path: not holds.is_settings_file(path) and bool(reading.touching(path, ""))
    )
    for path, _message in new:
        if path in posts:
            alerter.alert("unplanned", None, None, posts[path], now)
        elif path in ahead:
            alerter.alert("held_ahead", None, None, ahead[path], now)
        else:
            said = Said.of(N_("{problems}; the sends it touches are held, nothing is cancelled"), problems=told[path])
            alerter.alert("broken_file", None, None, said, now)
    for path in fixed:
        log.info("%s is fixed; the sends it held follow the files again", path)


def held(ledger: Ledger, alerter: Alerter, now: datetime) -> list[Outcome]:
    """Alert, once, every held send whose time has come (its reason names the file and line): one
    alert per post, naming its channels, since an error of one send holds the whole post."""
    outcomes = []
    by_post: dict[str, list[Delivery]] = {}
    held = Said.of(N_("held"))
    signed: dict[str, Said | None] = {}  # a post held for sign-off → its words, from the ledger's sign-offs
    for row in ledger.sends.held_now_due(now):
        message = str(Said.of(N_("its time has come but it is not sent: {reasons}"), reasons=row.reason or held))
        by_post.setdefault(row.post, []).append(row)
        outcomes.append(Outcome(row.post, row.channel, State.HELD, message, now, row.due))
        if holds.is_signoff_hold(row.reason) and row.post not in signed:
            signed[row.post] = ledger.signoffs.held_said(row.post, now=now)
    language = alerter.language

    def reason_of(row: Delivery) -> str:
        # The reasons are stored as they were written: in the campaign's language (scheduler.publish.holds), but
        # a sign-off hold's in English (found by how it begins): its words are made again from the ledger.
        words = signed.get(row.post) if holds.is_signoff_hold(row.reason) else None
        return words.said_in(language) if words is not None else row.reason or held.said_in(language)

    for post, rows in by_post.items():
        reasons = "; ".join(dict.fromkeys(reason_of(row) for row in rows))
        if len(rows) == 1:
            said = Said.of(N_("its time has come but it is not sent: {reasons}"), reasons=reasons)
            alerter.alert("held", post, rows[0].channel, said, now)
            continue
        channels = names(sorted(row.channel for row in rows), language)
        said = Said.of(
            N_("its time has come but it is not sent on {channels}: {reasons}"), channels=channels, reasons=reasons
        )
        alerter.alert("held", post, None, said, now)
    return outcomes


WARNINGS = (timedelta(hours=48), timedelta(hours=4))  # a post still waiting for sign-off is alerted then


def signoffs(ledger: Ledger, alerter: Alerter, now: datetime) -> None:
    """Alert each approval that what goes out changed since (once), and each post still waiting for
    sign-off 48 and 4 hours before its time (once each)."""
    for post, person in ledger.signoffs.void_changed(now):
        changed = Said.of(
            N_(
                "what goes out changed since {person} approved it, so it is held until {person} approves "
                "the new text: `campaign signoff request {post} --for {person}` makes a new link"
            ),
            person=person,
            post=post,
        )
        alerter.alert("signoff", post, None, changed, now)
    for standing in ledger.signoffs.standings():
        left = standing.due - now
        if standing.reason is None or left <= timedelta(0) or left > WARNINGS[0]:
            continue
        kind = "signoff-4h" if left <= WARNINGS[1] else "signoff-48h"
        if not ledger.alerts.told(kind, standing.post):
            waiting = Said.of(
                N_("due in {left} but not sent until then unless it is approved: {reason}"),
                left=wording.said_by(partial(_duration, left)),
                reason=standing.state.why_held(UTC, standing.post) or standing.reason,
            )
            alerter.alert(kind, standing.post, None, waiting, now)


def _duration(delta: timedelta, language: str) -> str:
    return wording.duration(delta, language)


def _listed(problems: list[Problem]) -> Said:
    return wording.said_by(lambda language: "; ".join(wording.problem(p, language) for p in problems))


def _ahead(held: holds.HeldAhead, zone: tzinfo) -> Said:
    due = held.due
    return Said.of(
        N_(
            "{path} will not be sent at its time ({when}) on {channels}: {problems}; fixed before then, it goes "
            "out at its time"
        ),
        path=held.path,
        when=wording.said_by(lambda language: wording.moment(due, zone, language)),
        channels=", ".join(held.channels),
        problems=_listed(list(held.problems)),
    )
