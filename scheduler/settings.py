"""Settings declared as data: each has a name, a default and help, read from the environment once.

docs/operations.md lists them all; tests/unit/test_settings.py checks that it does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS = (
    Setting(
        "DATABASE_URL", "", "the ledger: sqlite:///path or postgresql://...; default: campaign.db in the campaign root"
    ),
    Setting("CAMPAIGN_ROOT", ".", "the campaign root when --root is not given"),
    Setting("CAMPAIGN_SECRETS_DIR", "/run/secrets", "folder of secret files named after their ${NAME}"),
    Setting("CAMPAIGN_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting("CAMPAIGN_LOG_FORMAT", "text", "text, or json for one JSON object per line"),
    Setting(
        "CAMPAIGN_MAX_LATE", "1 hour", "how late a post may still go out after downtime or a pause (per post: max_late)"
    ),
    Setting(
        "CAMPAIGN_MAX_ATTEMPTS", "8", "attempts before a post that keeps failing with retryable errors is marked failed"
    ),
    Setting("CAMPAIGN_RETRY_BASE", "30", "seconds before the first retry; doubled each time, at most 30 minutes"),
    Setting("CAMPAIGN_WORKERS", "1", "posts sent at the same time by one daemon"),
    Setting(
        "CAMPAIGN_UPLOAD_WORKERS",
        "1",
        "sends with a video (or 16 MB of media) uploaded at the same time beside the other sends; 0: in turn with them",
    ),
    Setting(
        "CAMPAIGN_PROCESSES",
        "",
        "processes that plan a big campaign in validate, preview, diff; default: the CPUs, at most 8",
    ),
    Setting(
        "CAMPAIGN_STALE_AFTER", "60", "seconds without a heartbeat after which another host's daemon counts as dead"
    ),
    Setting(
        "CAMPAIGN_USER", "", "who `pause`, `resume`, `retry` and `resolve` record as having acted; default: the OS user"
    ),
    Setting(
        "CAMPAIGN_DB_OUTAGE_LIMIT",
        "15 minutes",
        "how long the daemon waits for an unreachable database (claiming nothing) before it exits with status 75",
    ),
    Setting(
        "CAMPAIGN_CACHE_DIR",
        "",
        "where images made to fit each network, and what validate and preview read (plans/), are kept (outside git); "
        "default: ~/.cache/campaign-scheduler",
    ),
    Setting("CAMPAIGN_ALERT_WEBHOOK", "", "URL that receives a JSON alert for every failure, miss and post in doubt"),
    Setting("CAMPAIGN_USERS_FILE", "", "the web dashboard's accounts (`campaign users add`); keep it outside git"),
    Setting("CAMPAIGN_USERS", "", "the accounts file's content, for platforms without a disk"),
    Setting("CAMPAIGN_SESSION_SECRET", "", "signs the dashboard's login cookies; `serve` will not start without it"),
    Setting("CAMPAIGN_SESSION_HOURS", "12", "hours a dashboard login lasts"),
    Setting(
        "CAMPAIGN_TRUST_PROXY",
        "",
        "the proxy whose X-Forwarded-For/-Proto/-Host `serve` believes: 1 (this host), or addresses/networks",
    ),
    Setting(
        "CAMPAIGN_PUBLIC_URL",
        "",
        "the dashboard's address as people reach it (https://...); sign-off links begin with it",
    ),
    Setting("PORT", "8000", "the port `campaign serve` listens on (set by most platforms)"),
    Setting(
        "CAMPAIGN_RESULT_AGES",
        "1 hour, 1 day, 7 days, 30 days",
        "the ages after publishing at which the daemon and `collect` take each post's public counts",
    ),
    Setting("CAMPAIGN_REPLIES_FOR", "14 days", "how long after publishing the replies to a post are read"),
    Setting(
        "CAMPAIGN_COLLECT_EVERY", "30 seconds", "how often the daemon's collector looks for counts and replies due"
    ),
    Setting(
        "CAMPAIGN_FAULT",
        "",
        "tests only: kill the daemon at a named point (after-claim, after-publish, before-part-N, after-part-N)",
    ),
    Setting(
        "CAMPAIGN_LINKS_ALLOW_HOSTS",
        "",
        "tests only: host names (comma-separated) the link checker fetches without refusing inside addresses",
    ),
    Setting(
        "CAMPAIGN_NOW",
        "",
        "tests only: the time validate, preview and rehearse take as now (ISO 8601 with an offset)",
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str, env: Mapping[str, str] | None = None) -> str:
    """The setting's value from the environment, else its default."""
    env = os.environ if env is None else env
    return env.get(name) or _BY_NAME[name].default


def get_int(name: str, env: Mapping[str, str] | None = None) -> int:
    value = get(name, env)
    try:
        return int(value)
    except ValueError:
        from scheduler.errors import ConfigError

        raise ConfigError(f"{name}={value!r} is not a whole number") from None


_DURATION = re.compile(r"^\s*(\d+)\s*(second|minute|hour|day|week)s?\s*$", re.I)


class DurationTooLong(ValueError):
    """A duration longer than any time can be (more days than a timedelta holds)."""


def parse_duration(text: str) -> timedelta:
    """The one reader of durations, in settings and in posts: '30 minutes', '2 hours', '1 day', '0'.

    ValueError (DurationTooLong for one too long to hold) otherwise.
    """
    if text.strip() == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as '30 minutes', '6 hours' or '1 day'")
    try:
        return timedelta(**{match.group(2).lower() + "s": int(match.group(1))})
    except OverflowError:
        raise DurationTooLong(f"{text.strip()} is too long") from None
