"""Sends that clash: the same channel in the same minute (a warning), the same text twice on a
channel (an error, unless the later post allows a repeat).

`Collisions` remembers the sends of its last check, so that a daemon re-planning after one edit
looks only at the sends that are new since then (a cached build hands out the same entry objects
for what did not change). The answer is always what a fresh check gives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from operator import attrgetter
from typing import Generic, Protocol, TypeVar

from scheduler.content.problems import Problem, error, warning
from scheduler.words import N_, Said


class _Channel(Protocol):
    @property
    def name(self) -> str: ...


class _Draft(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def draft(self) -> bool: ...
    @property
    def allow_repeat(self) -> bool: ...


class _Post(Protocol):
    @property
    def text(self) -> str: ...


class Send(Protocol):
    """What a check needs of a plan entry (scheduler.content.plan.Entry)."""

    @property
    def due(self) -> datetime: ...
    @property
    def draft(self) -> _Draft: ...
    @property
    def channel(self) -> _Channel: ...
    @property
    def post(self) -> _Post | None: ...
    @property
    def problems(self) -> tuple[Problem, ...]: ...


S = TypeVar("S", bound=Send)
Key = tuple[str, object]  # (channel, minute) or (channel, text)
_ORDER = attrgetter("due", "channel.name", "draft.id")  # the plan's order: who came first


class Collisions(Generic[S]):
    """Checks entries for clashes, keeping what it counted for the next check. Not thread-safe
    (a PlanCache's builds take turns)."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[S, Key | None, Key | None]] = {}  # id → (send, minute, text)
        self._minutes: dict[Key, list[S]] = {}  # lists: most hold one send
        self._texts: dict[Key, list[S]] = {}
        self._flagged: dict[int, tuple[tuple[Problem, ...], S]] = {}  # id → (added problems, flagged send)

    def check(self, entries: list[S]) -> list[S]:
        """`entries` (in the plan's order), each clashing one with its warning or error added."""
        now = dict(zip(map(id, entries), entries, strict=True))
        for gone in self._known.keys() - now.keys():
            send, minute, text = self._known.pop(gone)
            _drop(self._minutes, minute, send)
            _drop(self._texts, text, send)
        minutes: dict[datetime, datetime] = {}  # one object per minute: 10,000 posts share 4 channels
        for new in now.keys() - self._known.keys():
            send = now[new]
            minute = text = None
            if not send.draft.draft:
                due = minutes.setdefault(send.due, send.due.replace(second=0, microsecond=0))
                minute = (send.channel.name, due)
                self._minutes.setdefault(minute, []).append(send)
                if send.post is not None:
                    text = (send.channel.name, send.post.text)
                    self._texts.setdefault(text, []).append(send)
            self._known[new] = (send, minute, text)
        added: dict[int, list[Problem]] = {}
        for group in self._minutes.values():
            if len(group) > 1:
                first, *later = sorted(group, key=_ORDER)
                for send in later:
                    added.setdefault(id(send), []).append(_same_minute(send, first))
        for group in self._texts.values():
            if len(group) > 1:
                first, *later = sorted(group, key=_ORDER)
                for send in later:
                    if not send.draft.allow_repeat:
                        added.setdefault(id(send), []).append(_same_text(send, first))
        if not added:
            self._flagged = {}
            return entries
        flagged: dict[int, tuple[tuple[Problem, ...], S]] = {}
        for key, extra in added.items():
            problems = tuple(extra)  # the minute's warning, then the text's error
            known = self._flagged.get(key)
            if known is not None and known[0] == problems:
                flagged[key] = known  # the same object as last time: the ledger's memo knows it
            else:
                send = now[key]
                flagged[key] = (problems, replace(send, problems=send.problems + problems))  # type: ignore[type-var]
        self._flagged = flagged
        return [flagged[id(e)][1] if id(e) in flagged else e for e in entries]


def _drop(groups: dict[Key, list[S]], key: Key | None, send: S) -> None:
    if key is None:
        return
    group = groups[key]
    group[:] = [other for other in group if other is not send]
    if not group:
        del groups[key]


def _same_minute(send: Send, first: Send) -> Problem:
    return warning(
        send.draft.path,
        1,
        Said.of(
            N_("goes out on {channel} in the same minute as {path}"), channel=send.channel.name, path=first.draft.path
        ),
    )


def _same_text(send: Send, first: Send) -> Problem:
    return error(
        send.draft.path,
        1,
        Said.of(
            N_("{channel} gets the same text as {path}; set allow_repeat: true if that is meant"),
            channel=send.channel.name,
            path=first.draft.path,
        ),
    )
