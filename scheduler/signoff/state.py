"""Where a post's sign-off stands, as data: computed from the ledger by scheduler.publish.store.signoffs
(`state_of`), formatted by each view (the CLI in English, the previews, the dashboard and alerts in the
campaign's language through `said`), and carried as data in JSON (`record`).

A post's state is the worst of its people's: declined, else changed since approval, else waiting, else
approved. Without a ledger (a pull request's CI) it is "unknown": a view says what the post needs, never
"approved" by guess."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from babel.dates import format_datetime

from scheduler.signoff.fingerprint import ANYONE
from scheduler.words import N_, SOURCE, Said, base_language, translator

APPROVED, WAITING, CHANGED, DECLINED, UNKNOWN = "approved", "waiting", "changed", "declined", "unknown"
WORST_FIRST = (DECLINED, CHANGED, WAITING, APPROVED)
TEAM = "team"  # how a post's front matter says "any operator" (scheduler.content's `signoff: team`)

# A held send's reason: recorded in English, where the ledger finds it by how it begins (publish.holds.SIGNOFF_HELD);
# people read the same words in the campaign's language (State.held).
HELD = N_("held for sign-off: {why}")
# Said once where no ledger can be read: the state is not in the files.
IN_THE_LEDGER = N_(
    "where each sign-off stands is kept in the ledger, not in the files: see `campaign signoff status` or the dashboard"
)


@dataclass(frozen=True)
class Person:
    """One person's answer, or the want of one. `name`: as the team typed it; for `signoff: team`, the
    operator who approved (or ANYONE while none did)."""

    name: str
    state: str  # approved | waiting | changed | declined
    at: datetime | None = None  # approved/declined: when; changed: when approved; waiting: the oldest open link
    note: str | None = None  # declined: what the person wrote

    def record(self) -> dict[str, Any]:
        found: dict[str, Any] = {"person": None if self.name == ANYONE else self.name, "state": self.state}
        key = {APPROVED: "approved_at", DECLINED: "declined_at", CHANGED: "approved_at", WAITING: "since"}[self.state]
        found[key] = None if self.at is None else self.at.astimezone(UTC).isoformat()
        if self.state == DECLINED:
            found["note"] = self.note
        return found


@dataclass(frozen=True)
class State:
    """Where one post's sign-off stands. `needs`: as the files say (("team",): any operator)."""

    needs: tuple[str, ...]
    people: tuple[Person, ...] = ()
    known: bool = True  # False: no ledger could be read

    @property
    def state(self) -> str:
        if not self.known:
            return UNKNOWN
        found = {p.state for p in self.people}
        return next((s for s in WORST_FIRST if s in found), WAITING)

    @property
    def approved(self) -> bool:
        return self.state == APPROVED

    def record(self) -> dict[str, Any]:
        """The JSON shape (documented in docs/review.md): needs, state, and each person's answer."""
        found: dict[str, Any] = {"needs": list(self.needs), "state": self.state}
        if self.known:
            found["people"] = [p.record() for p in self.people]
        return found

    def said(self, zone: tzinfo = UTC, post: str = "") -> Said:
        """Where it stands, for people: "approved by verteller on ...", "waiting for sign-off by verteller
        since ...", ... one clause per person not approved (all of them when every one approved). `post`: named
        in the command that makes a link where none was sent."""
        if not self.known:
            return needs(self.needs)
        shown = [p for p in self.people if p.state != APPROVED] or list(self.people)
        clauses = [_clause(p, zone, post) for p in shown]
        return _joined(clauses)

    def why_held(self, zone: tzinfo = UTC, post: str = "") -> Said | None:
        """Why it may not go out now (the clauses of `said` of the people not approved), or None."""
        return None if self.approved else self.said(zone, post)

    def held(self, zone: tzinfo = UTC, post: str = "") -> Said | None:
        """A held send's reason ("held for sign-off: waiting for sign-off by verteller since ..."), or None.
        Its English (`str`), with times in UTC, is what the ledger records."""
        why = self.why_held(zone, post)
        return None if why is None else Said.of(HELD, why=why)


def unknown(names: Sequence[str]) -> State:
    """The state where no ledger can be read: only what the post needs."""
    return State(tuple(names), (), known=False)


def needs(names: Sequence[str]) -> Said:
    """ "needs sign-off by verteller" ("by any operator" for `signoff: team`)."""
    if tuple(names) == (TEAM,):
        return Said.of(N_("needs sign-off by any operator"))
    return Said.of(N_("needs sign-off by {people}"), people=", ".join(names))


def _clause(person: Person, zone: tzinfo, post: str) -> Said:
    when = _moment(person.at, zone)
    if person.name == ANYONE:
        who: object = Said.of(N_("an operator"))
    else:
        who = person.name
    if person.state == APPROVED:
        return Said.of(N_("approved by {person} on {when}"), person=who, when=when)
    if person.state == DECLINED:
        return Said.of(N_("declined by {person} on {when}: {note}"), person=who, when=when, note=person.note or "—")
    if person.state == CHANGED:
        return Said.of(
            N_("changed since {person} approved it on {when}; {person} must approve the new text"),
            person=who,
            when=when,
        )
    if person.at is None:
        name = "NAME" if person.name == ANYONE else person.name
        return Said.of(
            N_("waiting for sign-off by {person}; no link sent yet (`campaign signoff request {post} --for {name}`)"),
            person=who,
            post=post or "POST",
            name=name,
        )
    return Said.of(N_("waiting for sign-off by {person} since {when}"), person=who, when=when)


@dataclass(frozen=True)
class _Rendered(Said):
    """Words made by a function of the language (a moment, clauses joined), as a value of a marked message."""

    render: Callable[[str], str] = field(default=str, compare=False)

    def said_in(self, language: str) -> str:
        return self.render(language)


def _moment(at: datetime | None, zone: tzinfo) -> Said:
    """A moment as people read it in the language: "2026-12-07 11:00 UTC" in English (what the ledger's
    recorded reasons say), "ma 7 dec 2026 12:00 CET" in the campaign's language."""

    def render(language: str) -> str:
        if at is None:
            return "?"
        if base_language(language) == SOURCE:
            local = at.astimezone(zone)
            return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()
        locale = language.replace("-", "_")
        return str(format_datetime(at.astimezone(zone), "EEE d MMM y HH:mm zzz", locale=locale))

    return _Rendered("", render=render)


def _joined(clauses: list[Said]) -> Said:
    def render(language: str) -> str:
        return "; ".join(c.said_in(language) for c in clauses)

    return _Rendered("", render=render)


def in_the_ledger(language: str = SOURCE) -> str:
    """The note said once where no ledger can be read."""
    return translator(language).gettext(IN_THE_LEDGER)
