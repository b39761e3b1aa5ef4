"""The daemon: APScheduler wakes it at the next due time; files are watched; signals stop it.

The ledger is the only source of truth: the in-memory timer is only a wake-up call, so any number
of daemons can share one PostgreSQL database (or one SQLite file on one host).

Passes run one after another in a loop of their own. The timer only sets an Event, and the loop
waits on it for at most POLL: a skipped or lost timer run can never leave the daemon without a
next wake-up, and a pause set or lifted anywhere takes effect within POLL. While the ledger is
unreachable the loop claims nothing, retries with backoff and, after CAMPAIGN_DB_OUTAGE_LIMIT,
stops the daemon with EXIT_OUTAGE so that the platform's restart policy takes over.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from scheduler import settings
from scheduler.content.cache import RACY_NS, PlanCache
from scheduler.content.campaign import Campaign
from scheduler.content.plan import Plan, build
from scheduler.content.problems import Problem, human, plural
from scheduler.errors import LedgerUnavailable
from scheduler.publish import tokens
from scheduler.publish.fingerprint import Fingerprints
from scheduler.publish.planning import media_unchanged
from scheduler.publish.publisher import Publisher
from scheduler.publish.watch import CHECK, Watcher
from scheduler.publish.wording import duration, said_by
from scheduler.times import local_time
from scheduler.words import N_, Said

log = logging.getLogger("scheduler.publish.daemon")


class Background(Protocol):
    """Work beside publishing in a thread of its own (scheduler.results.collector.Collector): it must
    never hold the pass lock or the publisher's adapters, so it can never delay a due send."""

    def start(self, stop: threading.Event) -> None: ...

    def update(self, campaign: Campaign) -> None: ...

    def close(self, timeout: float) -> None: ...


POLL = timedelta(seconds=5)  # wake at least this often: pauses set or lifted, other daemons' retries
AGAIN = timedelta(seconds=0.1)  # the shortest sleep when something is due but nothing could be claimed
OUTAGE_BACKOFF = (timedelta(seconds=0.5), timedelta(seconds=5))  # first and longest wait for the ledger
EXIT_OUTAGE = 75  # EX_TEMPFAIL: the ledger stayed unreachable for CAMPAIGN_DB_OUTAGE_LIMIT
HEARTBEAT = timedelta(seconds=10)
STOP_WITHIN = 8.0  # seconds to let sends in flight finish on SIGTERM (exit within 10 s)


class Daemon:
    def __init__(
        self,
        root: Path,
        publisher: Publisher,
        workers: int = 1,
        outage_limit: timedelta | None = None,
        background: Background | None = None,
    ) -> None:
        self.root, self.publisher, self.workers = root, publisher, max(1, workers)
        self.background = background
        self.outage_limit = outage_limit if outage_limit is not None else outage_limit_from_env()
        self.stop = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="send")
        self._pass_lock = threading.Lock()
        self._seen_action = 0  # the last action by hand this daemon has logged
        self._wake = threading.Event()
        self._loop = threading.Thread(target=self._passes, name="passes", daemon=True)
        self._outage: tuple[float, timedelta] | None = None  # since (monotonic), next wait
        self._replan_due = False  # a re-plan failed because the ledger was unreachable
        self._plans = PlanCache()  # what the last plans read: the next reads only what changed
        self._logged: set[Problem] = set()  # the problems of the last plan, logged when they appeared
        self._logged_lock = threading.Lock()
        self.exit_code = 0
        self.token_watch = tokens.TokenWatch(publisher.channels, publisher.alerter)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.publisher.ledger.workers.heartbeat(self.publisher.worker, self.publisher.clock.now())
        self._pauses_in_force()
        watcher = Watcher(self.root, self.stop, self._files_changed)  # once live, it has us plan again
        self._send_as_planned()
        try:
            self.replan()
        except LedgerUnavailable as exc:
            self._replan_due = True
            log.error("planning waits for the ledger: %s", exc)
        watcher.start()
        if self._plans.unsettled:
            # Files written just before the start (a deploy's fresh checkout) cannot be kept by the
            # cache yet; read them again once they are old enough, not at the first edit.
            warm = threading.Timer(RACY_NS / 1e9 + 0.5, self._warm_up)
            warm.daemon = True
            warm.start()
        self.scheduler.add_job(self._heartbeat, "interval", seconds=HEARTBEAT.total_seconds(), id="heartbeat")
        # The tokens are looked at now and then once a day; the look runs beside sends, never delaying one.
        self.scheduler.add_job(
            self._look_at_tokens,
            "interval",
            seconds=tokens.CHECK_EVERY.total_seconds(),
            id="tokens",
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()
        self._loop.start()
        if self.background is not None:
            self.background.start(self.stop)
        log.info("running as %s with %d worker(s)", self.publisher.worker, self.workers)
        self.stop.wait()
        return self._shutdown()

    def _send_as_planned(self) -> None:
        """At the start, before the first plan (which reads every file): send what is due now and was
        planned from files that are still as they were (scheduler.publish.fingerprint), by the one
        claim path (pauses, max_late, threads, link checks). Anything else waits for the plan."""
        publisher = self.publisher
        try:
            due = publisher.ledger.sends.due_as_planned(publisher.clock.now())
            if not due:
                return
            prints = Fingerprints(self.root, None)
            ready = [
                d.id
                for d in due
                if d.planned_from is not None
                and prints.now(d.path, d.planned_from) == d.planned_from
                and media_unchanged(d.payload, d.post, d.channel, d.version)
            ]
            log.info(
                "start: %s due; %d unchanged since planned, sent before planning; the rest wait for the plan",
                plural(len(due), "send"),
                len(ready),
            )
            if not ready:
                return
            with self._pass_lock:
                self._notice_actions()
                done = publisher.make_pass(self.workers, self.stop, self.pool, only=ready)
            for outcome in done.settled:
                log.warning("settled %s on %s: %s (%s)", outcome.post, outcome.channel, outcome.state, outcome.detail)
        except LedgerUnavailable as exc:
            log.error("sending before the plan waits for the ledger: %s", exc)
        except Exception:  # the plan and the passes after it still run
            log.exception("sending before the plan failed; the plan decides")

    def replan(self) -> Plan:
        """Read what changed in the files and bring the ledger in line; a broken file is reported
        and skipped. The caller holds the pass lock, or no pass runs yet."""
        plan = self._plan()
        self._sync(plan)
        return plan

    def _plan(self) -> Plan:
        """The plan of the files as they are now, from the files that changed (see content/cache.py).
        Each problem is logged once, when it first appears (a re-plan after an edit of one post
        does not repeat the 150 warnings of the others)."""
        plan = build(self.root, cache=self._plans)
        with self._logged_lock:
            problems = set(plan.problems)
            for problem in plan.problems:
                if problem not in self._logged:
                    (log.error if problem.is_error else log.warning)("%s", problem)
            fixed = len(self._logged - problems)
            if fixed:
                log.info("%s of the last plan no longer found", plural(fixed, "problem"))
            self._logged = problems
        return plan

    def _sync(self, plan: Plan, quiet: bool = False) -> None:
        """Give the ledger what changed in `plan`, unless a newer plan was built meanwhile (its
        builder syncs it). Under the pass lock. `quiet`: log at debug level if nothing changed."""
        if plan is not self._plans.latest:
            log.debug("plan: a newer plan was built meanwhile; syncing that one instead")
            return
        self.publisher.channels.update(plan.campaign)
        if self.background is not None:
            self.background.update(plan.campaign)
        counts = self.publisher.sync(plan, self.publisher.clock.now())
        changed = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        (log.debug if quiet and not changed else log.info)(
            "plan: %d sends planned; ledger %s", len(plan.entries), changed or "unchanged"
        )

    def tick(self) -> timedelta:
        """One pass: record what the ledger missed, settle interrupted sends, send what is due with
        every worker. How long to sleep before the next pass; LedgerUnavailable if it is away."""
        with self._pass_lock:
            publisher = self.publisher
            if self._outage is not None:
                # First: others must see us alive.
                publisher.ledger.workers.heartbeat(publisher.worker, publisher.clock.now())
            publisher.flush()
            self._back()
            if self._replan_due:
                self.replan()
                self._replan_due = False
            self._notice_actions()  # in the pass, so what a person did is logged before what it causes
            done = publisher.make_pass(self.workers, self.stop, self.pool, wait_uploads=False)
            for outcome in done.settled:
                log.warning("settled %s on %s: %s (%s)", outcome.post, outcome.channel, outcome.state, outcome.detail)
            due, now = publisher.ledger.sends.next_wake(unpaused=True), publisher.clock.now()
        if due is None:
            return POLL
        return min(POLL, max(due - now, timedelta(0) if done.sent else AGAIN))

    def _passes(self) -> None:
        while not self.stop.is_set():
            self._wake.clear()
            try:
                sleep = self.tick()
            except LedgerUnavailable as exc:
                sleep = self._away(exc)
            except Exception:
                log.exception("publishing pass failed; trying again shortly")
                sleep = POLL
            self._sleep(sleep)

    def _sleep(self, delay: timedelta) -> None:
        """Until the timer fires, the files change, or POLL passes, whichever comes first."""
        if self.stop.is_set():
            return
        if delay < POLL:
            try:
                run_at = datetime.now(UTC) + delay
                self.scheduler.add_job(self._wake.set, DateTrigger(run_date=run_at), id="wake", replace_existing=True)
            except Exception:  # a stopped scheduler at shutdown: the wait below still ends
                log.debug("timer not set", exc_info=True)
        self._wake.wait(timeout=POLL.total_seconds())

    def _away(self, exc: LedgerUnavailable) -> timedelta:
        """The ledger is unreachable: log and alert once, retry with backoff, give up after the limit."""
        if self._outage is None:
            self._outage = (time.monotonic(), OUTAGE_BACKOFF[0])
            message = (
                f"{exc}; claiming nothing until it is back (sends in flight are kept in memory); "
                f"the daemon stops after {human(self.outage_limit)} without it"
            )
            log.error("the ledger is unreachable: %s", message)
            alerter = self.publisher.alerter
            said = Said.of(
                N_(
                    "{error}; claiming nothing until it is back (sends in flight are kept in memory); "
                    "the daemon stops after {limit} without it"
                ),
                error=str(exc),
                limit=said_by(lambda language: duration(self.outage_limit, language)),
            )
            alerter.alert("ledger_unreachable", None, None, said, self.publisher.stamp())
        since, delay = self._outage
        away = timedelta(seconds=time.monotonic() - since)
        if away >= self.outage_limit:
            log.critical(
                "stopping: the ledger has been unreachable for %s (CAMPAIGN_DB_OUTAGE_LIMIT is %s): %s",
                human(away),
                human(self.outage_limit),
                exc,
            )
            self.exit_code = EXIT_OUTAGE
            self.stop.set()
            return delay
        self._outage = (since, min(delay * 2, OUTAGE_BACKOFF[1]))
        return delay

    def _back(self) -> None:
        if self._outage is not None:
            away = timedelta(seconds=time.monotonic() - self._outage[0])
            self._outage = None
            self.publisher.synced.forget()  # it may not hold what was synced before (a failover)
            log.warning("the ledger is back after %s; publishing again", human(away))

    def _pauses_in_force(self) -> None:
        """At start: log the pauses in force, and who made them; later actions are logged as they come."""
        ledger = self.publisher.ledger
        done = ledger.operators.actions()
        self._seen_action = done[-1].id if done else 0
        made = {a.channel or "*": a for a in done if a.action == "pause"}
        zone = self.publisher.channels.campaign.settings.timezone
        for pause in ledger.operators.pauses():
            since = local_time(pause.since, zone)
            action = made.get(pause.scope)
            by = f" by {action.who}@{action.host}" if action else ""
            log.warning("%s paused since %s%s: %s", pause.what, since, by, pause.reason)

    def _notice_actions(self) -> None:
        """Log what people did by hand (pause, resume, retry, resolve) since the last look; the pass
        that calls this then acts on it."""
        try:
            new = self.publisher.ledger.operators.actions(after=self._seen_action)
        except LedgerUnavailable:
            return  # the publishing loop reports the outage, once
        except Exception:
            log.exception("cannot read the actions by hand")
            return
        for action in new:
            self._seen_action = action.id
            log.warning("%s", action.summary())

    def _heartbeat(self) -> None:
        try:
            self.publisher.ledger.workers.heartbeat(self.publisher.worker, self.publisher.clock.now())
        except LedgerUnavailable:
            pass  # the publishing loop reports the outage, once
        except Exception:
            log.exception("heartbeat failed")

    def _look_at_tokens(self) -> None:
        tokens.look(self.token_watch, self.publisher.clock)

    def _files_changed(self, what: str) -> None:
        # Planning runs outside the pass lock, so due sends never wait for it; only the ledger sync
        # (short: just what changed) takes turns with the publishing passes.
        try:
            plan = self._plan()
            with self._pass_lock:
                self._sync(plan, quiet=what == CHECK)
        except LedgerUnavailable as exc:
            self._replan_due = True
            log.error("planning waits for the ledger: %s", exc)
        except Exception:
            log.exception("planning failed; the ledger keeps its last good state")
        self._wake.set()

    def _warm_up(self) -> None:
        if not self.stop.is_set():
            log.debug("reading again the files that were still changing at the start")
            self._files_changed("warm-up")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the sends in flight", signal.Signals(signum).name)
        self.stop.set()

    def _shutdown(self) -> int:
        self._wake.set()
        self.scheduler.shutdown(wait=False)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.publisher.close_uploads()
        deadline = threading.Event()
        waited = 0.0
        while self.publisher.in_flight and waited < STOP_WITHIN:
            deadline.wait(0.1)
            waited += 0.1
        ledger = self.publisher.ledger
        with contextlib.suppress(LedgerUnavailable):  # abandon_in_flight names what stays unrecorded
            self.publisher.flush()
        self.publisher.abandon_in_flight(self.publisher.stamp())
        if not self.publisher.in_flight and not self.publisher.unrecorded:
            with contextlib.suppress(LedgerUnavailable):
                ledger.workers.leave(self.publisher.worker)
        self.publisher.channels.close()
        if self.publisher.links is not None:
            self.publisher.links.close()
        if self.background is not None:
            self.background.close(timeout=1.0)
        log.info("stopped")
        return self.exit_code


def outage_limit_from_env() -> timedelta:
    """CAMPAIGN_DB_OUTAGE_LIMIT: how long the daemon waits for an unreachable ledger before it exits."""
    from scheduler.errors import ConfigError

    value = settings.get("CAMPAIGN_DB_OUTAGE_LIMIT")
    try:
        return settings.parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"CAMPAIGN_DB_OUTAGE_LIMIT: {exc}") from None
