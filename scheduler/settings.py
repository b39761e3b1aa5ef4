"""Settings declared as data: each has a name, a default and help, read from the environment once.

README.md lists them all; tests/unit/test_settings.py checks that it does.
"""

from __future__ import annotations

import os
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
    Setting("CAMPAIGN_ALERT_WEBHOOK", "", "URL that receives a JSON alert for every failure, miss and post in doubt"),
    Setting("CAMPAIGN_FAULT", "", "tests only: kill the daemon at a named point (after-claim, after-publish)"),
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


def parse_duration(text: str) -> timedelta:
    """'30 minutes', '2 hours', '1 day', '0' → timedelta; ValueError otherwise."""
    parts = text.strip().split()
    if parts == ["0"]:
        return timedelta(0)
    if len(parts) != 2 or not parts[0].isdigit():
        raise ValueError(f"{text!r} is not a duration such as '30 minutes' or '2 hours'")
    unit = parts[1].lower().rstrip("s") + "s"
    if unit not in ("seconds", "minutes", "hours", "days", "weeks"):
        raise ValueError(f"{text!r} has an unknown unit")
    return timedelta(**{unit: int(parts[0])})
