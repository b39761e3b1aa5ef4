"""The upload lane: a send whose media hold a video (or weigh HEAVY bytes or more) goes out in a thread
of its own, so that while it uploads for minutes to a slow network the other due sends are claimed and
sent as usual (issue #21).

The lane only moves where a send runs: the publisher claims it as any send (one claim, by this worker,
whose heartbeat keeps it its own), and the lane's thread runs the same `deliver` (pause check, max_late,
outcome and alerts). A send still queued when the lane closes is put back as never sent.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable

from scheduler.posts import RenderedPost
from scheduler.publish.policy import Outcome
from scheduler.publish.store.sends import Claim

log = logging.getLogger("scheduler.publish.lane")

HEAVY = 16 * 1024 * 1024  # bytes of media from which a send with images only goes to the lane too


def is_heavy(post: RenderedPost) -> bool:
    """Whether the send of `post` uploads a video, or HEAVY bytes or more of media."""
    if any(item.is_video for item in post.media):
        return True
    total = 0
    for item in post.media:
        with contextlib.suppress(OSError):  # a file gone: the send itself says so
            total += item.path.stat().st_size
    return total >= HEAVY


class Lane:
    """At most `workers` heavy sends at a time, each by `send(claim)`, in daemon threads (a stop never
    waits for an upload to end: the daemon records it as interrupted, as any send in flight).
    `release(claim)` puts back a claimed send that never started (the lane closed first)."""

    def __init__(self, workers: int, send: Callable[[Claim], Outcome], release: Callable[[Claim], Outcome]) -> None:
        self.workers = max(1, workers)
        self._send, self._release = send, release
        self._queue: queue.SimpleQueue[Claim] = queue.SimpleQueue()
        self._changed = threading.Condition()
        self._busy = 0  # queued or sending
        self._done: list[Outcome] = []
        self._closed = False
        self._threads: list[threading.Thread] = []

    @property
    def busy(self) -> int:
        """Sends queued or under way."""
        with self._changed:
            return self._busy

    def submit(self, claim: Claim) -> None:
        """Send `claim` in the lane; released at once if the lane is closed."""
        with self._changed:
            if not self._closed:
                self._busy += 1
                self._queue.put(claim)
                if len(self._threads) < min(self.workers, self._busy):
                    thread = threading.Thread(target=self._run, name=f"upload-{len(self._threads)}", daemon=True)
                    self._threads.append(thread)
                    thread.start()
                return
        self._finish(self._release, claim, counted=False)

    def harvest(self) -> list[Outcome]:
        """The outcomes of the lane's sends ended since the last harvest."""
        with self._changed:
            done, self._done = self._done, []
        return done

    def wait(self, timeout: float | None = None) -> bool:
        """Until no send is queued or under way (True), or `timeout` seconds pass (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        """Take no more sends; those queued and not started are released (nothing of them went out)."""
        with self._changed:
            self._closed = True
        while True:
            try:
                claim = self._queue.get_nowait()
            except queue.Empty:
                return
            self._finish(self._release, claim)

    def _run(self) -> None:
        while True:
            claim = self._queue.get()
            with self._changed:
                closed = self._closed
            self._finish(self._release if closed else self._send, claim)

    def _finish(self, action: Callable[[Claim], Outcome], claim: Claim, counted: bool = True) -> None:
        outcome = None
        try:
            outcome = action(claim)
        except Exception:  # deliver records what the network did; this is a fault of the ledger or ours
            log.exception("the upload lane's send of %s on %s failed", claim.post, claim.channel)
        finally:
            with self._changed:
                if outcome is not None:
                    self._done.append(outcome)
                if counted:
                    self._busy -= 1
                self._changed.notify_all()
