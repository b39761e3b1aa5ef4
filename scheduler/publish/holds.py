"""Which sends the files hold and which a change positively cancels: the rules of the ledger's sync.

Only what valid files say may cancel a send: its post file was deleted, made a draft, or no longer
names the channel. A send that a broken file touches is held with that file's problem as the
reason, never cancelled, and goes out as planned once the file is fixed:

- a post with errors, or an error in a `_defaults.yml` above it, holds that post's sends;
- a broken entry of channels.yml holds that channel's sends only;
- any other error in channels.yml or hashtags.yml (whose default tags go on every post), or a
  missing posts/ folder, holds every send: nothing is cancelled while it lasts.

A hold's or a cancellation's reason is written in the campaign's language (the reading's `language`):
it is what the dashboard shows and the held alert quotes. A link hold's stays English: the ledger finds
those by how they begin (LINK_HELD), and the dashboard says what they mean in the campaign's language.

Pure functions of the plan and of a ledger row's state: no database, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from scheduler.content.campaign import CHANNELS_FILE, DEFAULTS_FILE, POSTS_DIR
from scheduler.content.hashtags import FILE as HASHTAGS_FILE
from scheduler.content.plan import Plan, Unplaced
from scheduler.content.problems import Problem
from scheduler.publish import wording
from scheduler.publish.states import FOR_A_PERSON, State
from scheduler.words import N_, SOURCE, Said

SHOWN = 3  # problems quoted in one reason
RETRY_REQUESTED = "retry requested"  # the reason of a send a person made due now
LINK_HELD = "held by the link check"  # how the reason of a send held for a dead link begins
SIGNOFF_HELD = "held for sign-off"  # how the reason of a send held at its time for want of sign-off begins
UNPLANNED = "cannot be planned"  # the version of a held row for a post file that could not be planned


@dataclass(frozen=True)
class Fate:
    """What becomes of a send: its state and why."""

    state: State  # held or cancelled for a send the plan no longer has; else its new state
    reason: str | None


class Known(NamedTuple):
    """A post read without errors: what it positively says. (A tuple: two readings of 10,000
    posts compare in C, which is what a re-plan after one edit does.)"""

    path: str
    channels: frozenset[str]
    draft: bool


@dataclass(frozen=True)
class Reading:
    """What one reading of the files says, as far as holding and cancelling go."""

    posts: Mapping[str, Known] = field(default_factory=dict)  # post id → facts
    paths: frozenset[str] = frozenset()  # files of the posts read without errors
    everything: tuple[Problem, ...] = ()  # errors that hold every send
    folders: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)  # "posts/x/" → its _defaults errors
    channels: Mapping[str, Problem] = field(default_factory=dict)  # broken channels.yml entries
    errors_at: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)  # a post file → its errors
    language: str = SOURCE  # the campaign's: the reasons are written in it

    def settings_problems(self) -> list[Problem]:
        """Every error in a settings file (channels.yml, hashtags.yml, a _defaults.yml)."""
        found = [*self.everything, *self.channels.values(), *(p for ps in self.folders.values() for p in ps)]
        return sorted(set(found))

    def touching(self, path: str, channel: str) -> list[Problem]:
        """The settings errors that touch a send of the post file `path` on `channel`."""
        found = list(self.everything)
        if channel in self.channels:
            found.append(self.channels[channel])
        found += [p for folder, ps in self.folders.items() if path.startswith(folder) for p in ps]
        return found


def is_settings_file(path: str) -> bool:
    return path in (CHANNELS_FILE, HASHTAGS_FILE, POSTS_DIR) or (
        path.startswith(POSTS_DIR + "/") and PurePosixPath(path).name == DEFAULTS_FILE
    )


def read(plan: Plan, *, posts: bool = True) -> Reading:
    """The reading of `plan`: which posts it positively knows, and which errors hold what."""
    broken_entries = {**plan.campaign.unpublishable, **plan.campaign.broken_channels}
    entry_problems = set(broken_entries.values())
    everything: list[Problem] = []
    folders: dict[str, list[Problem]] = defaultdict(list)
    errors_at: dict[str, list[Problem]] = defaultdict(list)
    for problem in plan.problems:
        if not problem.is_error or problem in entry_problems:
            continue
        if problem.path in (CHANNELS_FILE, HASHTAGS_FILE, POSTS_DIR):
            everything.append(problem)
        elif is_settings_file(problem.path):
            folders[str(PurePosixPath(problem.path).parent) + "/"].append(problem)
        else:
            errors_at[problem.path].append(problem)
    # `posts=False`: the settings files' problems alone (10,000 posts need not be gone through for them).
    known = {d.id: Known(d.path, frozenset(d.channels), d.draft) for d in plan.drafts} if posts else {}
    return Reading(
        posts=known,
        paths=frozenset(k.path for k in known.values()),
        everything=tuple(everything),
        folders={k: tuple(v) for k, v in folders.items()},
        channels=broken_entries,
        errors_at={k: tuple(v) for k, v in errors_at.items()},
        language=plan.campaign.settings.language,
    )


def cannot_be_planned(plan: Plan, reading: Reading | None = None) -> list[Unplaced]:
    """The posts a person is told of one by one as not plannable: not drafts, with an error of their
    own, and not below a broken settings file (that file is the one cause told of, and it holds them)."""
    found = [u for u in plan.unplaced if not u.draft and any(p.is_error for p in u.problems)]
    if not found:  # the usual case, without reading the whole plan (the dashboard asks every second)
        return []
    reading = reading or read(plan)
    return [u for u in found if not reading.touching(u.path, "")]


@dataclass(frozen=True)
class HeldAhead:
    """A planned post its own errors will hold (an image that cannot be made to fit, a text too long):
    told of when the daemon first meets it, not only at its time."""

    path: str
    due: datetime  # its first send's time
    channels: tuple[str, ...]
    problems: tuple[Problem, ...]


def held_ahead(plan: Plan, now: datetime, reading: Reading | None = None) -> list[HeldAhead]:
    """The posts ahead of `now` that are planned but held by errors of their own (not drafts, not below a
    broken settings file: that file is the one cause told of)."""
    found: dict[str, list[Any]] = {}
    for entry in plan.entries:
        if entry.due > now and not entry.draft.draft and any(p.is_error for p in entry.problems):
            found.setdefault(entry.draft.path, []).append(entry)
    if not found:  # the usual case
        return []
    reading = reading or read(plan)
    ahead = []
    for path, entries in sorted(found.items()):
        if reading.touching(path, ""):
            continue
        errors = tuple(sorted({p for e in entries for p in e.problems if p.is_error}))
        channels = tuple(sorted({e.channel.name for e in entries}))
        ahead.append(HeldAhead(path, min(e.due for e in entries), channels, errors))
    return ahead


def reason(problems: Iterable[Problem], fallback: str | Said, language: str = SOURCE) -> str:
    """A hold's reason in `language`: the problems with file and line (the first few), or `fallback`."""
    text = listed(problems, language)
    if not text:
        return fallback.said_in(language) if isinstance(fallback, Said) else fallback
    return Said.of(N_("held until fixed: {problems}"), problems=text).said_in(language)


def listed(problems: Iterable[Problem], language: str) -> str:
    """The problems with file and line (the first few, then how many more) in `language`; "" for none."""
    shown = sorted(set(problems))
    text = "; ".join(wording.problem(p, language) for p in shown[:SHOWN])
    more = len(shown) - SHOWN
    if more > 0:
        return Said.of(N_("{problems}; and {n} more"), problems=text, n=more).said_in(language)
    return text


def hold_for(reading: Reading, path: str, channel: str, own: Iterable[Problem] = ()) -> str | None:
    """Why a planned send of the post file `path` on `channel` must not go out now, or None."""
    return reason(_held_by(own, reading.touching(path, channel)), "", reading.language) or None


def _held_by(own: Iterable[Problem], causes: list[Problem]) -> list[Problem]:
    """A send's own problems and the settings errors that touch it. A post "not checked" because of a
    broken settings file is held by that file alone: the reason is the cause, the same for every send
    it holds, so `status` lists them under it once."""
    return [*(p for p in own if not (causes and p.cause)), *causes]


def absent(reading: Reading, post: str, channel: str, path: str, exists: bool) -> Fate:
    """The fate of an open send that this reading does not plan: cancelled only if the files say so."""
    language = reading.language
    known = reading.posts.get(post)
    if known is not None:
        if known.draft:
            return Fate(State.CANCELLED, Said.of(N_("{path} was made a draft"), path=known.path).said_in(language))
        if channel not in known.channels:
            gone = Said.of(N_("{path} no longer names {channel}"), path=known.path, channel=channel)
            return Fate(State.CANCELLED, gone.said_in(language))
        problems = _held_by(reading.errors_at.get(known.path, ()), reading.touching(known.path, channel))
        unplanned = Said.of(N_("{path} names {channel} but could not be planned"), path=known.path, channel=channel)
        return Fate(State.HELD, reason(problems, unplanned, language))
    touching = reading.touching(path, channel)
    if touching:  # while a file that touches the send is broken, nothing it touches is cancelled
        return Fate(State.HELD, reason(_held_by(reading.errors_at.get(path, ()), touching), "", language))
    if path in reading.paths:
        other = Said.of(N_("{path} is now another post (its id changed)"), path=path)
        return Fate(State.CANCELLED, other.said_in(language))
    if not exists:
        return Fate(State.CANCELLED, Said.of(N_("{path} was deleted"), path=path).said_in(language))
    broken = Said.of(N_("{path} has errors; it goes out once they are fixed"), path=path)
    return Fate(State.HELD, reason(reading.errors_at.get(path, ()), broken, language))


# A link hold's words: its reason is recorded in English (LINK_HELD begins it), its alert in the campaign's language.
LINK_HOLD = N_("held by the link check: {dead}; fix the post, or `campaign retry` sends it without the check")


def link_hold(dead: str) -> str:
    """The reason of a send the link check held at its time: `dead` says which links and why."""
    return str(Said.of(LINK_HOLD, dead=dead))


def is_link_hold(row_reason: str | None) -> bool:
    return row_reason is not None and row_reason.startswith(LINK_HELD)


def is_signoff_hold(row_reason: str | None) -> bool:
    return row_reason is not None and row_reason.startswith(SIGNOFF_HELD)


def present(state: State, row_reason: str | None, changed: bool, hold: str | None) -> Fate:
    """The new state of an open send (pending, retry, held, cancelled, failed, missed) that the plan has.

    `changed`: its text or time differs from the row's; `hold`: why the files hold it (its own
    errors, a broken settings file, or a repeat of a text that already went out). A send the link
    check held stays held until it changes (or a person retries it).
    """
    if hold:
        if state in FOR_A_PERSON and not changed:
            return Fate(state, row_reason)  # it waits for a person anyway; a hold must not re-arm it
        return Fate(State.HELD, hold)
    if state == State.HELD and is_link_hold(row_reason) and not changed:
        return Fate(state, row_reason)  # found dead at its time: an edit of the post or a retry releases it
    if state == State.HELD and is_signoff_hold(row_reason) and not changed:
        return Fate(state, row_reason)  # an approval releases it (store.signoffs.decide), or an edit: looked at again
    if state in (State.HELD, State.CANCELLED):
        return Fate(State.PENDING, None)
    if state in FOR_A_PERSON and changed:
        return Fate(State.PENDING, None)  # edited or moved after it failed: a new try
    return Fate(state, row_reason)


def repeat_hold(
    channel: str, post: str, published_as: str | None, allow_repeat: bool, language: str = SOURCE
) -> str | None:
    """Why a send repeats a text that already went out on its channel (in `language`), or None."""
    if published_as in (None, post) or allow_repeat:
        return None
    said = Said.of(
        N_("the same text already went out on {channel} as {post}; set allow_repeat: true to send it again"),
        channel=channel,
        post=published_as,
    )
    return said.said_in(language)


def unplanned(state: State, row_reason: str | None, fate: Fate) -> Fate:
    """The new state of an open send the plan no longer has, given its `fate` by `absent`: a failed
    send waits for a person anyway, so a hold must not re-arm it."""
    if state == State.FAILED and fate.state == State.HELD:
        return Fate(state, row_reason)
    return fate


def keeps_retry_time(row_reason: str | None, same_version: bool, same_state: bool) -> bool:
    """A person asked for this send to go out now (`campaign retry`): the files' time does not undo
    that, as long as its text and state stay as they were."""
    return row_reason == RETRY_REQUESTED and same_version and same_state
