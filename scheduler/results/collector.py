"""Collection: each published post's public counts at fixed ages, and the replies to it.

One pass (`Collector.collect`) takes what is due now by the clock it is given, so the daemon (in a
thread of its own, `Collector.run`), `campaign collect` and a rehearsal on a simulated clock share it.

- Counts: each (send, age) is taken once (the ledger's key), so a restart loses nothing and never
  fetches again. A pass that finds several ages of one post due (its daemon was down) measures once,
  for the oldest age, and records the younger ones as skipped: a 30-day figure is never shown as
  a 1-hour one.
- Replies are read for CAMPAIGN_REPLIES_FOR after publishing: every 5 minutes in a post's first
  hour, then at a tenth of its age, at most an hour apart. A new reply that matches the watch list
  raises an alert at once (recorded → sent → marked, exactly once per reply). Nothing is answered.
- Each post's replies are taken before they are read, as a send is claimed (Replies.take_reply_poll),
  and given back if the network did not answer: several daemons never read one post at once.
- A network that answers 429 rests for the time its rate-limit headers say (RetryLater.after);
  a failing network backs off (30 s, doubling, at most 30 minutes). Neither stops the other networks,
  and none of it shares a connection or a lock with publishing.
- A channel whose plan does not include reading replies (NotPermitted: X without search) is said
  once, in an alert (once in the ledger's life, so a restart or `collect --once` does not repeat
  it), and its replies are not asked for again until its settings change or the process restarts;
  its counts go on.
- Replies are personal data: nothing here logs their text, author or link, nor puts them in an alert.
- Alerts are made as marked messages (`Said`): written in the campaign's language (the alerter's), logged in
  English, as the publisher's are (scheduler.publish.alerts).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from scheduler import settings
from scheduler.channels.base import Channel, Counts, Receipt
from scheduler.content import watchlist
from scheduler.content.cache import RACY_NS, Key, file_key
from scheduler.content.campaign import Campaign
from scheduler.content.problems import human, plural
from scheduler.errors import CampaignError, ChannelError, ConfigError, LedgerUnavailable, NotPermitted, RetryLater
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import Clock
from scheduler.publish.ledger import Ledger, NewReply, Published, Snapshot, SnapshotsDue, StoredReply
from scheduler.publish.wording import problem, said_by
from scheduler.secrets import redact
from scheduler.words import N_, Said

log = logging.getLogger("scheduler.results.collector")
POLL = timedelta(seconds=30)  # between two passes of the daemon's collector
FIRST_BACKOFF, MAX_BACKOFF = timedelta(seconds=30), timedelta(minutes=30)
RESERVE, RESERVE_MIN = 0.2, 5  # of a network's rate limit, left for posting
DAEMON_PACE = timedelta(milliseconds=20)
WRITE_EVERY = 50  # reads kept in memory before one transaction records them (a kill redoes at most these)
REPLIES_EVERY = (timedelta(minutes=5), timedelta(hours=1))  # shortest and longest time between two reads


class Adapters(Protocol):
    """Where the collector gets each channel's adapter (publish.publisher.Channels, or a rehearsal's)."""

    campaign: Campaign

    def get(self, name: str) -> Channel: ...

    def update(self, campaign: Campaign) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Config:
    ages: tuple[timedelta, ...]
    replies_for: timedelta
    every: timedelta = POLL  # between two passes of the daemon's collector
    max_requests: int = 500  # per pass and kind (replies, counts): a pass stays short, the next follows at once
    pace: timedelta = timedelta(0)  # at least this between two reads (the daemon's: it gives way to publishing)

    @classmethod
    def from_env(cls) -> Config:
        try:
            ages = tuple(sorted({settings.parse_duration(p) for p in settings.get("CAMPAIGN_RESULT_AGES").split(",")}))
            replies_for = settings.parse_duration(settings.get("CAMPAIGN_REPLIES_FOR"))
            every = settings.parse_duration(settings.get("CAMPAIGN_COLLECT_EVERY"))
        except ValueError as exc:
            raise ConfigError(f"CAMPAIGN_RESULT_AGES, CAMPAIGN_REPLIES_FOR or CAMPAIGN_COLLECT_EVERY: {exc}") from None
        if any(age <= timedelta(0) for age in ages):
            raise ConfigError("CAMPAIGN_RESULT_AGES: every age must be longer than 0")
        return cls(ages, replies_for, max(every, timedelta(seconds=1)))

    def for_daemon(self) -> Config:
        """The daemon's collector is in no hurry: 50 reads a second at most, so publishing keeps the CPU."""
        return replace(self, pace=DAEMON_PACE)


@dataclass
class Collected:
    """What one pass did."""

    snapshots: int = 0
    replies: int = 0
    alerts: int = 0
    requests: int = 0
    resting: dict[str, str] = field(default_factory=dict)  # channel → why it waits
    more: bool = False  # the pass stopped at its request budget: more is due now

    def summary(self) -> str:
        text = (
            f"{plural(self.snapshots, 'snapshot')}, {plural(self.replies, 'new reply', 'new replies')}, "
            f"{plural(self.alerts, 'alert')} in {plural(self.requests, 'request')}"
        )
        return text + "".join(f"; {name} waits: {why}" for name, why in sorted(self.resting.items()))


class Collector:
    def __init__(
        self, ledger: Ledger, channels: Adapters, alerter: Alerter, clock: Clock, root: Path, config: Config
    ) -> None:
        self.ledger, self.channels, self.alerter, self.clock = ledger, channels, alerter, clock
        self.root, self.config = root, config
        self._rest: dict[str, tuple[datetime, timedelta, str]] = {}  # channel → (until, last backoff, why)
        self._told: dict[str, str] = {}  # channel → the lasting failure a person was alerted of
        self._unreadable: dict[str, str] = {}  # channel → why its replies cannot be read (said once)
        self._watch = watchlist.WatchList()
        self._watch_read: tuple[Key | None, str | None] | None = None  # the file as read, the error said (English)
        self.thread: threading.Thread | None = None

    # -- the daemon's thread ---------------------------------------------------------------------

    def start(self, stop: threading.Event) -> None:
        """Collect in a thread of its own until `stop` is set; a failure is logged and backed off."""
        self.thread = threading.Thread(target=self.run, args=(stop,), name="results", daemon=True)
        self.thread.start()

    def update(self, campaign: Campaign) -> None:
        """Take a newly read channels.yml (the daemon re-planned)."""
        before = self.channels.campaign.channels
        self.channels.update(campaign)
        for name in list(self._unreadable):
            if before.get(name) != campaign.channels.get(name):
                del self._unreadable[name]  # other keys may be an app whose plan can read replies

    def close(self, timeout: float) -> None:
        """After `stop` was set: let a request in flight end (within `timeout`), release connections."""
        if self.thread is not None:
            self.thread.join(timeout)
        self.channels.close()

    def run(self, stop: threading.Event) -> None:
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            try:
                done = self.collect(stop=stop)
                backoff = FIRST_BACKOFF
                if done.snapshots or done.replies or done.alerts:
                    log.info("results: %s", done.summary())
                wait = timedelta(0) if done.more else self.config.every
            except LedgerUnavailable:
                wait = backoff  # the publishing loop reports the outage, once
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception:
                log.exception("collecting results failed; trying again in %s", human(backoff))
                wait = backoff
                backoff = min(backoff * 2, MAX_BACKOFF)
            stop.wait(wait.total_seconds())

    # -- one pass ------------------------------------------------------------------------------

    def collect(self, now: datetime | None = None, stop: threading.Event | None = None) -> Collected:
        """Take the counts and read the replies that are due at `now` (default: the clock's), then
        alert the watched replies not yet alerted."""
        now = now or self.clock.now()
        done = Collected()
        counting, replying = self._capable()
        # Replies first, each kind with a budget of its own: a backlog of counts never holds up
        # a reply that needs a person, nor the other way round.
        self._replies(now, replying, done, stop)
        done.alerts += self.alert_watched(now)
        self._counts(now, counting, done, stop)
        for name, (until, _, why) in self._rest.items():
            if until > now:
                done.resting[name] = why
        return done

    def _capable(self) -> tuple[dict[str, Channel], dict[str, Channel]]:
        """The channels whose network has counts, and those whose replies can be read."""
        counting, replying = {}, {}
        for name in self.channels.campaign.channels:
            try:
                adapter = self.channels.get(name)
            except CampaignError as exc:  # a missing secret: publishing says so too
                log.debug("results: channel %s unusable: %s", name, exc)
                continue
            if adapter.has_counts:
                counting[name] = adapter
            if adapter.has_replies and name not in self._unreadable:
                replying[name] = adapter
        return counting, replying

    def _counts(
        self, now: datetime, counting: dict[str, Channel], done: Collected, stop: threading.Event | None
    ) -> None:
        awake = [name for name in counting if not self._resting(name, now)]
        by_channel: dict[str, list[SnapshotsDue]] = defaultdict(list)
        for due in self.ledger.results.snapshots_due(now, self.config.ages, awake):
            by_channel[due.published.channel].append(due)
        taken: list[Snapshot] = []  # written every WRITE_EVERY reads, in one transaction
        reads = 0
        budget = done.requests + self.config.max_requests
        try:
            for name, items in by_channel.items():
                adapter = counting[name]
                size = max(1, adapter.counts_batch)
                for start in range(0, len(items), size):
                    if done.requests >= budget or (stop is not None and stop.is_set()):
                        done.more = done.more or done.requests >= budget
                        return
                    batch = items[start : start + size]
                    receipts = [Receipt(d.published.url, d.published.remote_id) for d in batch]
                    self._give_way(stop)
                    done.requests += 1
                    try:
                        found = adapter.counts(receipts)
                    except ChannelError as exc:
                        self._failed(name, now, exc)
                        break
                    self._well(name)
                    taken += _snapshots(batch, found, self.clock.now())
                    if self._spent(name, adapter, now):
                        break
                    reads += 1
                    if reads % WRITE_EVERY == 0:
                        done.snapshots += self.ledger.results.record_snapshots(taken)
                        taken = []
        finally:
            done.snapshots += self.ledger.results.record_snapshots(taken)

    def _replies(
        self, now: datetime, replying: dict[str, Channel], done: Collected, stop: threading.Event | None
    ) -> None:
        watch = self.watch_list(now)
        read: list[tuple[Published, list[NewReply]]] = []  # written every WRITE_EVERY reads, in one transaction
        for published, polled_at in self.ledger.replies.reply_targets(now, self.config.replies_for, list(replying)):
            if polled_at is not None and now - polled_at < _read_every(now - published.published_at):
                continue
            name = published.channel
            if self._resting(name, now):
                continue
            if done.requests >= self.config.max_requests or (stop is not None and stop.is_set()):
                done.more = done.requests >= self.config.max_requests
                break
            adapter = replying.get(name)
            if adapter is None:
                continue  # its replies cannot be read (said once)
            if not self.ledger.replies.take_reply_poll(published.id, polled_at, now):
                continue  # another daemon's collector reads it now
            self._give_way(stop)
            done.requests += 1
            try:
                found = adapter.replies_to(Receipt(published.url, published.remote_id))
            except NotPermitted as exc:
                self.ledger.replies.give_back_reply_poll(published.id, polled_at, now)
                self._cannot_read_replies(name, now, exc)
                replying.pop(name)
                continue
            except ChannelError as exc:
                self.ledger.replies.give_back_reply_poll(published.id, polled_at, now)
                self._failed(name, now, exc)
                continue
            self._well(name)
            self._spent(name, adapter, now)
            new = [NewReply(r, adapter.type_name, watch.match(r.text)) for r in found]
            read.append((published, new))
            if len(read) >= WRITE_EVERY or any(n.watch for n in new):
                # A reply that matches is kept and alerted at once, not at the end of the pass.
                done.replies += len(self.ledger.replies.record_replies(read, self.clock.now()))
                done.alerts += self.alert_watched(now)
                read = []
        done.replies += len(self.ledger.replies.record_replies(read, self.clock.now()))

    def alert_watched(self, now: datetime) -> int:
        """Alert each kept reply that matched the watch list and was not alerted yet; how many."""
        helplines = self._watch.helplines or "Veilig Thuis 0800-2000, De Kindertelefoon 0800-0432"
        alerted = 0
        for reply in self.ledger.replies.stored_replies(watched=True):
            said = _alert_text(reply, self.ledger.replies.published_url(reply.delivery_id), helplines)
            message = redact(self.alerter.say(said))  # in the campaign's language, as Alerter.alert records it
            alert_id = self.ledger.replies.alert_reply(reply, message, now, unsent=self.alerter.has_webhook)
            if alert_id is None:
                continue  # another daemon alerted it
            alerted += 1
            self.alerter.log("reply", reply.post, reply.channel, str(said))
            self.alerter.send(alert_id, "reply", reply.post, reply.channel, message, now)
        return alerted

    def watch_list(self, now: datetime) -> watchlist.WatchList:
        """watchlist.yml as it is now; while it is broken the last good one, and one alert saying so."""
        key, newest = file_key(self.root / watchlist.FILE)
        if time.time_ns() - newest < RACY_NS:
            key = None  # changed a moment ago: another edit within the same time stamp could keep this key
        if self._watch_read is not None and key is not None and self._watch_read[0] == key:
            return self._watch
        said = self._watch_read[1] if self._watch_read else None
        found, problems = watchlist.load(self.root)
        if found is not None:
            self._watch = found
            self._watch_read = (key, None)
            # A missing or empty list is a warning of the plan: the daemon logs it once, when it appears
            # (not at every read here), and validate and status show it.
        else:
            errors = [p for p in problems if p.is_error]
            message = Said.of(
                N_("{problems}; replies are matched against the last good watch list until it is fixed"),
                problems=said_by(lambda language: "; ".join(problem(p, language) for p in errors)),
            )
            if str(message) != said:
                self.alerter.alert("watch_list", None, None, message, now)
            self._watch_read = (key, str(message))
        return self._watch

    def _give_way(self, stop: threading.Event | None) -> None:
        if self.config.pace > timedelta(0):
            (stop or threading.Event()).wait(self.config.pace.total_seconds())

    # -- rate limits and failures ----------------------------------------------------------------

    def _resting(self, name: str, now: datetime) -> bool:
        rest = self._rest.get(name)
        return rest is not None and rest[0] > now

    def _failed(self, name: str, now: datetime, exc: ChannelError) -> None:
        last = self._rest.get(name)
        backoff = FIRST_BACKOFF if last is None else min(last[1] * 2, MAX_BACKOFF)
        # A rate limit's own word (Retry-After, the reset header) wins over the backoff.
        wait = timedelta(seconds=exc.after) if isinstance(exc, RetryLater) and exc.after is not None else backoff
        self._rest[name] = (now + wait, backoff, exc.reason)
        log.warning("results: %s answered %s; reading again in %s", name, exc.reason, human(wait))
        # A refusal (a permission taken away, a token the network no longer takes) or a failure that
        # has lasted to the longest backoff will not pass by itself: replies that need a person go
        # unread meanwhile, so a person is told, once per channel and reason.
        lasting = not isinstance(exc, RetryLater) or backoff >= MAX_BACKOFF
        if lasting and self._told.get(name) != exc.reason:
            self._told[name] = exc.reason
            message = Said.of(
                N_(
                    "counts and replies of {channel} cannot be read: {reason}; replies that need a person "
                    "go unseen until this is fixed (the collector tries again by itself)"
                ),
                channel=name,
                reason=exc.reason,
            )
            self.alerter.alert("results", None, name, message, now)

    def _cannot_read_replies(self, name: str, now: datetime, exc: NotPermitted) -> None:
        """Say once that `name`'s replies are not read, and why; backing off would ask forever. The
        alert is raised once in the ledger's life (a `collect --once` from cron must not repeat it);
        each process says it once in its log."""
        self._unreadable[name] = exc.reason
        message = Said.of(
            N_(
                "replies on {channel} are not read: {reason}. Until they are, look at the replies on the network "
                "by hand; once its plan allows it, restart the daemon (or change the channel's settings)"
            ),
            channel=name,
            reason=exc.reason,
        )
        # As Alerter.alert records it: in the campaign's language.
        if self.ledger.alerts.alerted("replies_unread", name, redact(self.alerter.say(message))):
            log.warning("results: %s (alerted before)", message)
        else:
            self.alerter.alert("replies_unread", None, name, message, now)

    def _spent(self, name: str, adapter: Channel, now: datetime) -> bool:
        """Rest a channel whose rate limit is down to its reserve, until the window starts again: the
        reserve is for posting, which shares the account's limit on most networks."""
        budget = adapter.read_budget()
        if budget is None or budget.remaining > max(RESERVE_MIN, budget.limit * RESERVE):
            return False
        wait = timedelta(seconds=max(budget.reset_in, 1.0))
        why = f"rate limit down to {budget.remaining} of {budget.limit}, kept for posting"
        self._rest[name] = (now + wait, FIRST_BACKOFF, why)
        log.info("results: %s: %s; reading again in %s", name, why, human(wait))
        return True

    def _well(self, name: str) -> None:
        self._told.pop(name, None)
        if self._rest.pop(name, None) is not None:
            log.info("results: %s answers again", name)


def _snapshots(batch: Iterable[SnapshotsDue], found: dict[str, Counts], taken_at: datetime) -> list[Snapshot]:
    made = []
    for due in batch:
        oldest = due.ages[-1]
        counts = found.get(due.published.remote_id)
        if counts is not None:
            made.append(Snapshot(due.published.id, timedelta(seconds=oldest), taken_at, counts, None))
        else:
            made.append(Snapshot(due.published.id, timedelta(seconds=oldest), taken_at, None, "not found"))
        for age in due.ages[:-1]:
            note = f"skipped: measured at {human(timedelta(seconds=oldest))}"
            made.append(Snapshot(due.published.id, timedelta(seconds=age), taken_at, None, note))
    return made


def _read_every(age: timedelta) -> timedelta:
    shortest, longest = REPLIES_EVERY
    return max(shortest, min(longest, age / 10))


def _alert_text(reply: StoredReply, post_url: str | None, helplines: str) -> Said:
    """What the alert says: the campaign's own post, the ledger's number of the reply and the phrase from
    the team's list. Never the reply's text, author, link or network id: a Mastodon link and a Bluesky
    id carry the author's handle, and alerts go to a webhook, the log and the alerts table."""
    where = post_url or Said.of(N_("post {post} on {channel}"), post=reply.post, channel=reply.channel)
    return Said.of(
        N_(
            "reply #{id} on {network} to {post} matches the watch list ({phrase}); "
            "`campaign replies --unhandled` shows it: answer it by hand, with the helplines ({helplines}); "
            "then `campaign replies handle {id}`"
        ),
        id=reply.id,
        network=reply.network,
        post=where,
        phrase=repr(reply.watch),
        helplines=helplines,
    )
