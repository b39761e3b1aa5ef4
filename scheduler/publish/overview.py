"""What `campaign status` and the web dashboard both show of the ledger: the pauses in force with who
made them, and what needs a person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler.publish import holds
from scheduler.publish.ledger import Ledger
from scheduler.publish.states import State
from scheduler.publish.store.operators import Pause
from scheduler.publish.store.sends import Delivery

#: The states that wait for a person, in the order both views list them, each with what settles it.
NEEDS_A_PERSON = (State.IN_DOUBT, State.FAILED, State.MISSED, State.HELD)


@dataclass(frozen=True)
class PauseInForce:
    pause: Pause
    by: str | None  # who@host; None for pauses made before actions were recorded


def paused_by(ledger: Ledger) -> dict[str, str]:
    """Who made each pause in force, by scope (pauses made before actions were recorded have none)."""
    found: dict[str, str] = {}
    for action in ledger.operators.actions():
        if action.action == "pause":
            found[action.channel or "*"] = f"{action.who}@{action.host}"
    return found


def pauses_in_force(ledger: Ledger) -> list[PauseInForce]:
    by = paused_by(ledger)
    return [PauseInForce(p, by.get(p.scope)) for p in ledger.operators.pauses()]


@dataclass(frozen=True)
class Overview:
    """The ledger now, as a page shows it: small lists, never every row."""

    pauses: list[PauseInForce]
    counts: dict[State, int]
    upcoming: list[Delivery]  # pending and retrying, soonest first
    needs_a_person: list[Delivery]  # NEEDS_A_PERSON, soonest due first
    published: list[Delivery]  # since `since`, newest first
    broken_files: list[tuple[str, str]]  # as a daemon last found them: (path, what is wrong)
    changed: list[Delivery]  # published, then edited or deleted (never sent again)


def overview(ledger: Ledger, since: datetime, limit: int = 20) -> Overview:
    """The pauses, the counts, the next `limit` sends, what needs a person (broken settings files first),
    what went out since `since`, and what changed after it went out."""
    return Overview(
        pauses=pauses_in_force(ledger),
        counts=ledger.views.state_counts(),
        upcoming=ledger.views.first_due((State.PENDING, State.RETRY, State.SENDING), limit),
        needs_a_person=ledger.views.first_due(NEEDS_A_PERSON, 5 * limit),
        published=ledger.views.published_since(since, limit),
        broken_files=[(path, what) for path, what in ledger.alerts.broken_files_seen() if holds.is_settings_file(path)],
        changed=ledger.views.changed_after_publishing(limit),
    )
