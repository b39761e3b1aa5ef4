"""How hard to try (the policy, from the environment), and what came of one try (an outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler import settings
from scheduler.publish.states import State

MAX_BACKOFF = timedelta(minutes=30)


@dataclass(frozen=True)
class Policy:
    """How hard to try: from the environment (scheduler.settings) unless given."""

    max_late: timedelta
    max_attempts: int
    retry_base: timedelta
    stale_after: timedelta

    @classmethod
    def from_env(cls) -> Policy:
        return cls(
            max_late=settings.parse_duration(settings.get("CAMPAIGN_MAX_LATE")),
            max_attempts=settings.get_int("CAMPAIGN_MAX_ATTEMPTS"),
            retry_base=timedelta(seconds=settings.get_int("CAMPAIGN_RETRY_BASE")),
            stale_after=timedelta(seconds=settings.get_int("CAMPAIGN_STALE_AFTER")),
        )

    def backoff(self, attempts: int) -> timedelta:
        return min(self.retry_base * (1 << min(max(0, attempts - 1), 20)), MAX_BACKOFF)


@dataclass(frozen=True)
class Outcome:
    post: str
    channel: str
    state: State  # published, retry, failed, in_doubt, missed, pending (released), held, ...
    detail: str
    at: datetime
    due: datetime
    url: str | None = None
