"""Logging: one line per event, as text or JSON (`--log-format json`), never with a secret, and never
a control character that a terminal would obey (a network's answer is quoted in some lines)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, tzinfo
from typing import Any

from scheduler.secrets import RedactingFilter
from scheduler.terminal import in_json, shown


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return in_json(json.dumps(entry, ensure_ascii=False))


class ZonedFormatter(logging.Formatter):
    """Text lines stamped in the campaign's time zone, with its name: 2027-11-15 09:00:00,123 CET."""

    def __init__(self, zone: tzinfo | None) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.zone = zone

    def formatMessage(self, record: logging.LogRecord) -> str:
        return shown(super().formatMessage(record))  # one line: a quoted answer cannot start a line of its own

    def formatException(self, ei: Any) -> str:
        return shown(super().formatException(ei), lines=True)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).astimezone(self.zone)  # None: this host's zone
        return f"{moment:%Y-%m-%d %H:%M:%S},{int(record.msecs):03d} {moment:%Z}"


def setup(level: str = "INFO", fmt: str = "text", zone: tzinfo | None = None) -> None:
    """Configure the root logger once: stderr, the chosen format, secrets redacted from every record.

    Text lines carry the time in `zone` (the campaign's; default: this host's), JSON lines in UTC.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())  # on the handler, so records of every logger pass through it
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ZonedFormatter(zone))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "alembic", "watchfiles"):  # scheduler.publish.watch logs each change itself
        logging.getLogger(noisy).setLevel(logging.WARNING)
