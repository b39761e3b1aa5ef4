"""The plan as the ledger's rows: what the files want of each send (publishable, or held and why)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path
from typing import NamedTuple

from scheduler.content.fields import TEAM
from scheduler.content.plan import Entry, Plan, Unplaced
from scheduler.content.problems import Problem
from scheduler.posts import RenderedPost
from scheduler.publish import holds, payload, wording
from scheduler.publish.fingerprint import Fingerprints, Hashes
from scheduler.publish.policy import Policy
from scheduler.publish.store.wanted import Wanted
from scheduler.signoff.fingerprint import encode_needs, fingerprint
from scheduler.words import N_, SOURCE, Said


def wanted_from(
    plan: Plan,
    policy: Policy,
    reading: holds.Reading | None = None,
    memo: dict[int, Remembered] | None = None,
    hashes: Hashes | None = None,
) -> list[Wanted]:
    """The plan as ledger rows: publishable entries, and held ones (their errors, or a broken
    settings file that touches them, as the reason).

    `memo`: the row of each entry, kept between calls: a plan built with a cache
    (scheduler.content.cache) hands out the same entry until its text, time or media change, and
    gets the same row object back (scheduler.publish.synced compares rows by identity first).

    Each row carries what it was planned from (scheduler.publish.fingerprint), when that is sure:
    `hashes` keeps the file hashes between calls."""
    reading = reading or holds.read(plan)
    entries = [e for e in plan.entries if not e.draft.draft]
    memo = memo if memo is not None else {}
    digests: dict[Path, str] = {}
    language = reading.language
    prints = _Prints(Fingerprints(plan.campaign.root, plan.read_ns, hashes)) if plan.read_ns else None
    known = [
        k
        if k is not None and k.entry is e and k.language == language
        else _remember(e, policy, digests, language, prints)
        for e, k in zip(entries, map(memo.get, map(id, entries)), strict=True)
    ]
    if prints is not None and not prints.of.unchanged((d.path, d.series) for d in plan.drafts):
        # What is around some posts changed since the last sync: their rows' fingerprints again.
        context = prints.of.context
        known = [
            k
            if (c := context(k.entry.draft.path, k.entry.draft.series)) is None or c == k.context
            else _fingerprinted(k, prints, c)
            for k in known
        ]
    memo.clear()
    memo.update(zip(map(id, entries), known, strict=True))
    unplanned = _unplanned(plan, policy, reading)
    if reading.everything or reading.channels or reading.folders:  # a broken settings file holds more
        return [_held(k, reading) for k in known] + unplanned
    return [k.row for k in known] + unplanned


def _unplanned(plan: Plan, policy: Policy, reading: holds.Reading) -> list[Wanted]:
    """A held row per channel for each post that cannot be planned, at the time its file seems to
    mean (scheduler.content.salvage): so it is alerted at its time, as a post that broke later is."""
    told = [u for u in plan.unplaced if not u.draft and u.due is not None and u.channels]
    if not told:
        return []
    planned = {(e.draft.id, e.channel.name) for e in plan.entries}
    rows = []
    for unplaced in told:
        assert unplaced.due is not None
        errors = [p for p in unplaced.problems if p.is_error]
        for channel in unplaced.channels:
            if (unplaced.key, channel) in planned:
                continue  # another post has that id: this file is known by its problems alone
            hold = holds.hold_for(reading, unplaced.path, channel, errors)
            rows.append(
                Wanted(
                    post=unplaced.key,
                    channel=channel,
                    path=unplaced.path,
                    due=unplaced.due,
                    max_late=policy.max_late,
                    version=holds.UNPLANNED,
                    key=_key(unplaced.key, channel, holds.UNPLANNED),
                    text_hash=_text_hash(channel, f"{holds.UNPLANNED}\n{unplaced.path}"),
                    allow_repeat=False,
                    payload=payload.EMPTY,
                    hold=hold
                    or Said.of(
                        N_("{path} cannot be planned; fix it and it goes out at its time"), path=unplaced.path
                    ).said_in(reading.language),
                )
            )
    return rows


def _remember(
    entry: Entry, policy: Policy, digests: dict[Path, str], language: str, prints: _Prints | None
) -> Remembered:
    errors = tuple(p for p in entry.problems if p.is_error)
    own = holds.reason(errors, "", language) or None
    if own is None and entry.post is None:
        own = _unrenderable(entry, language)
    if prints is None:
        return Remembered(entry, errors, _wanted(entry, policy, own, digests, None), language)
    # The post file's hash is taken when its entry is new: the plan read it in this build.
    draft = entry.draft
    source = prints.of.post(draft.path)
    context = prints.of.context(draft.path, draft.series)
    planned_from = prints.combine(source, context, draft.series)
    row = _wanted(entry, policy, own, digests, planned_from)
    return Remembered(entry, errors, row, language, source, context)


def _unrenderable(entry: Entry, language: str) -> str:
    said = Said.of(N_("{path} could not be rendered for {channel}"), path=entry.draft.path, channel=entry.channel.name)
    return said.said_in(language)


class _Prints:
    """The fingerprints of one sync; the sends of one post share theirs."""

    def __init__(self, of: Fingerprints) -> None:
        self.of = of
        self._made: dict[tuple[str | None, str | None, str | None], str | None] = {}

    def combine(self, source: str | None, context: str | None, series: str | None) -> str | None:
        parts = (source, context, series)
        if parts not in self._made:
            self._made[parts] = Fingerprints.combine(*parts)
        return self._made[parts]


def _fingerprinted(known: Remembered, prints: _Prints, context: str) -> Remembered:
    """`known` with its row's fingerprint made again: what is around the post is now `context`. When
    that cannot be known (a file changed since the plan began), the caller leaves the row with the
    fingerprint it had: made from the same reading of the post, it is still true of this row."""
    draft = known.entry.draft
    planned_from = prints.combine(known.source, context, draft.series)
    if planned_from is None or planned_from == known.row.planned_from:
        return known._replace(context=context)
    return known._replace(row=replace(known.row, planned_from=planned_from), context=context)


class Remembered(NamedTuple):
    """An entry, its errors, and its row as its own errors hold it (see wanted_from); the hash of its
    post file and of what is around it (scheduler.publish.fingerprint) when they are known."""

    entry: Entry
    errors: tuple[Problem, ...]
    row: Wanted
    language: str = SOURCE  # that of its reasons
    source: str | None = None
    context: str | None = None


def _held(known: Remembered, reading: holds.Reading) -> Wanted:
    """The row of an entry while a settings file is broken: held by its own errors and what touches it."""
    entry = known.entry
    hold = holds.hold_for(reading, entry.draft.path, entry.channel.name, known.errors)
    if hold is None and entry.post is None:
        hold = _unrenderable(entry, reading.language)
    return known.row if known.row.hold == hold else replace(known.row, hold=hold)


def _wanted(
    entry: Entry, policy: Policy, hold: str | None, digests: dict[Path, str], planned_from: str | None
) -> Wanted:
    post = entry.post
    stored, version, text = payload.EMPTY, "unrenderable", ""
    if post is not None:
        stored = payload.encode(post)
        version = version_of(stored, post, digests)
        text = post.text
    return Wanted(
        post=entry.draft.id,
        channel=entry.channel.name,
        path=entry.draft.path,
        due=entry.due,
        max_late=entry.draft.max_late if entry.draft.max_late is not None else policy.max_late,
        version=version,
        key=_key(entry.draft.id, entry.channel.name, version),
        text_hash=_text_hash(entry.channel.name, text),
        allow_repeat=entry.draft.allow_repeat,
        payload=stored,
        hold=hold,
        signoff=encode_needs(entry.draft.signoff, TEAM),
        planned_from=planned_from,
    )


def version_of(stored: str, post: RenderedPost, digests: dict[Path, str]) -> str:
    """A send's version: a hash of what goes out (its rendered payload, each thread part, the media's
    alt texts, and the bytes of the media files and of a video's captions files). How its links are
    checked is no part of it (a post that went out is not "changed after publishing" when its
    link_check changes)."""
    content = stored if post.link_check == "hold" else payload.encode(replace(post, link_check="hold"))
    # A video's captions are what people read of it: a changed captions file is a changed post.
    files = "".join(
        _digest(m.path, digests) + "".join(_digest(c.path, digests) for c in m.captions) for m in post.media
    )
    return hashlib.sha256((content + files).encode()).hexdigest()


def media_unchanged(stored: str, post: str, channel: str, version: str) -> bool:
    """Whether a ledger row's `version` is still what its payload and its media files (as they are now)
    give: a media file replaced while the daemon was down changes it."""
    if stored == payload.EMPTY:
        return False
    return version_of(stored, payload.decode(stored, post, channel), {}) == version


def post_fingerprint(entries: Iterable[Entry]) -> str:
    """The sign-off fingerprint of one post's planned sends (see scheduler.signoff.fingerprint), as the
    ledger will have it once the files are synced."""
    digests: dict[Path, str] = {}
    return fingerprint(
        (e.channel.name, "unrenderable" if e.post is None else version_of(payload.encode(e.post), e.post, digests))
        for e in entries
    )


def unplanned_message(unplaced: Unplaced, zone: tzinfo) -> Said:
    """What a person is told of a post file that cannot be planned: why, and when it is held."""
    errors = [p for p in unplaced.problems if p.is_error] or list(unplaced.problems)
    why = wording.said_by(
        lambda language: holds.listed(errors, language) or Said.of(N_("it has no time or no channel")).said_in(language)
    )
    due = unplaced.due
    if due is not None and unplaced.channels:
        said = Said.of(
            N_(
                "{path} cannot be planned, so it is not sent: {why}; it is held at {when} on {channels}; "
                "fixed before then, it goes out at its time"
            ),
            path=unplaced.path,
            why=why,
            when=wording.said_by(lambda language: wording.moment(due, zone, language)),
            channels=", ".join(unplaced.channels),
        )
    else:
        said = Said.of(
            N_(
                "{path} cannot be planned, so it is not sent: {why}; "
                "no time or channel can be read from it, so it is not on the calendar"
            ),
            path=unplaced.path,
            why=why,
        )
    return said


def _key(post: str, channel: str, version: str) -> str:
    return "cs-" + hashlib.sha256(f"{post}\n{channel}\n{version}".encode()).hexdigest()[:32]


def _text_hash(channel: str, text: str) -> str:
    return hashlib.sha256(f"{channel}\n{text}".encode()).hexdigest()


def _digest(path: Path, cache: dict[Path, str]) -> str:
    if path not in cache:
        try:
            cache[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            cache[path] = "missing"
    return cache[path]
