"""Failed logins slowed down per account and per address, in this process's memory.

A small ledger-free throttle rather than Flask-Limiter: the dashboard is one process (waitress
threads), failures only need counting (not every request), and the rule is one line: after
`allowed` failures within `window`, that account or address is refused until the oldest of them
is older than `window`. A success clears the account's failures, never the address's (so one good
account does not reset a guessing address). A restart forgets: argon2 keeps each guess slow anyway.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Throttle:
    def __init__(self, allowed: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.allowed = allowed
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> float:
        """Seconds until a login for all of `keys` may be tried again; 0 when it may now."""
        now = self._clock()
        longest = 0.0
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.allowed:
                    longest = max(longest, failures[0] + self.window - now)
        return longest

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures and len(self._failures) > 10_000:  # bounded memory under a spray of names
            self._failures = {k: v for k, v in self._failures.items() if v}
            self._failures[key] = failures
        return failures
