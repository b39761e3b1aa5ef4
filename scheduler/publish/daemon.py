"""The daemon: APScheduler wakes it at the next due time; files are watched; signals stop it.

The ledger is the only source of truth: the in-memory timer is only a wake-up call, so any number
of daemons can share one PostgreSQL database (or one SQLite file on one host).
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from scheduler.content.plan import Plan, build
from scheduler.publish.publisher import Publisher
from scheduler.publish.watch import Watcher

log = logging.getLogger("scheduler.publish.daemon")
MAX_SLEEP = timedelta(seconds=30)  # wake at least this often: pauses lifted, other daemons' retries
HEARTBEAT = timedelta(seconds=10)
STOP_WITHIN = 8.0  # seconds to let sends in flight finish on SIGTERM (exit within 10 s)


class Daemon:
    def __init__(self, root: Path, publisher: Publisher, workers: int = 1) -> None:
        self.root, self.publisher, self.workers = root, publisher, max(1, workers)
        self.stop = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="send")
        self._pass_lock = threading.Lock()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        ledger = self.publisher.ledger
        ledger.heartbeat(self.publisher.worker, ledger.clock())
        # Made before planning so that an edit made meanwhile is noticed (see scheduler/publish/watch.py).
        watcher = Watcher(self.root, self.stop, self._files_changed)
        self.replan()
        watcher.start()
        self.scheduler.add_job(self._heartbeat, "interval", seconds=HEARTBEAT.total_seconds(), id="heartbeat")
        self.scheduler.start()
        self.tick()
        log.info("running as %s with %d worker(s)", self.publisher.worker, self.workers)
        self.stop.wait()
        return self._shutdown()

    def replan(self) -> Plan:
        """Read the files again and bring the ledger in line; a broken file is reported and skipped."""
        plan = build(self.root)
        for problem in plan.problems:
            (log.error if problem.is_error else log.warning)("%s", problem)
        self.publisher.channels.update(plan.campaign)
        counts = self.publisher.sync(plan, self.publisher.ledger.clock())
        log.info(
            "plan: %d sends planned; ledger %s",
            len(plan.entries),
            ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "unchanged",
        )
        return plan

    def tick(self) -> None:
        """Send what is due with every worker, then sleep until the next due time."""
        if self.stop.is_set():
            return
        with self._pass_lock:
            try:
                now = self.publisher.ledger.clock()
                for outcome in self.publisher.recover(now):
                    log.warning(
                        "settled %s on %s: %s (%s)", outcome.post, outcome.channel, outcome.state, outcome.detail
                    )
                self.publisher.alert_held(now)
                futures = [self.pool.submit(self.publisher.drain, None, self.stop) for _ in range(self.workers)]
                wait(futures)
                for future in futures:
                    if future.exception() is not None:
                        log.error("send worker failed: %s", future.exception())
            except Exception:
                log.exception("publishing pass failed; trying again shortly")
            self._schedule_next()

    def _schedule_next(self) -> None:
        if self.stop.is_set():
            return
        ledger = self.publisher.ledger
        now = ledger.clock()
        wake = now + MAX_SLEEP
        try:
            due = ledger.next_wake()
        except Exception:
            log.exception("cannot read the next due time")
            due = None
        if due is not None:
            wake = min(wake, max(due, now))
        # The database clock may differ slightly from this host's: convert to a delay here.
        run_at = datetime.now(UTC) + (wake - now)
        self.scheduler.add_job(self.tick, DateTrigger(run_date=run_at), id="tick", replace_existing=True)

    def _heartbeat(self) -> None:
        try:
            self.publisher.ledger.heartbeat(self.publisher.worker, self.publisher.ledger.clock())
        except Exception:
            log.exception("heartbeat failed")

    def _files_changed(self, _what: str) -> None:
        try:
            with self._pass_lock:
                self.replan()
        except Exception:
            log.exception("planning failed; the ledger keeps its last good state")
        self._schedule_next()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the sends in flight", signal.Signals(signum).name)
        self.stop.set()

    def _shutdown(self) -> int:
        self.scheduler.shutdown(wait=False)
        self.pool.shutdown(wait=False, cancel_futures=True)
        deadline = threading.Event()
        waited = 0.0
        while self.publisher.in_flight and waited < STOP_WITHIN:
            deadline.wait(0.1)
            waited += 0.1
        ledger = self.publisher.ledger
        self.publisher.abandon_in_flight(ledger.clock())
        if not self.publisher.in_flight:
            ledger.leave(self.publisher.worker)
        self.publisher.channels.close()
        log.info("stopped")
        return 0
