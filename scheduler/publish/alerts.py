"""Alerts: every failure, miss and post in doubt is logged, recorded in the ledger and, when a
webhook is configured (`alerts: {webhook: ...}` in channels.yml or CAMPAIGN_ALERT_WEBHOOK),
POSTed to it as JSON: {"kind", "post", "channel", "message", "at"} (Slack-compatible `text` too).

An alert is made as a `Said` (scheduler.words) and recorded and sent in the campaign's language (the
team reads it in their chat and on the dashboard); the log line says it in English.

Each alert is recorded first (marked unsent), then sent, then marked sent: a daemon killed in
between sends it at its next start, and one that is not killed never sends it twice. While the
ledger is unreachable an alert still goes to the webhook (it needs no database) and is recorded
once the ledger is back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta

import requests

from scheduler.errors import LedgerUnavailable
from scheduler.publish.ledger import Ledger
from scheduler.secrets import redact
from scheduler.words import N_, SOURCE, Said

log = logging.getLogger("scheduler.publish.alerts")
RESEND_EVERY = 60.0  # seconds between two looks for alerts the webhook has not received
RESEND_AFTER = timedelta(seconds=30)  # younger ones may still be on their way from a live daemon


class Alerter:
    def __init__(self, ledger: Ledger, webhook: str | None = None, language: str = SOURCE) -> None:
        """`language`: the campaign's, in which alerts are recorded and sent (the publisher keeps it
        up to date from the plan)."""
        self.ledger = ledger
        self.language = language
        self.webhook = webhook or None
        self._http = requests.Session() if self.webhook else None
        self._lock = threading.Lock()
        self._unrecorded: list[tuple[str, str | None, str | None, str, datetime]] = []  # sent; to record
        self._unmarked: list[int] = []  # sent; to mark sent
        self._looked: float | None = None

    @property
    def has_webhook(self) -> bool:
        return self._http is not None

    def say(self, message: str | Said) -> str:
        """`message` in the campaign's language, as it is recorded and sent."""
        return message.said_in(self.language) if isinstance(message, Said) else message

    def alert(self, kind: str, post: str | None, channel: str | None, said: str | Said, now: datetime) -> None:
        """Record, send, then mark sent; a broken notifier or ledger is logged, never raised."""
        self.log(kind, post, channel, str(said))
        message = redact(self.say(said))
        try:
            alert_id = self.ledger.alerts.record_alert(kind, post, channel, message, now, unsent=self.has_webhook)
        except LedgerUnavailable:
            self.send(None, kind, post, channel, message, now)
            with self._lock:
                self._unrecorded.append((kind, post, channel, message, now))
            return
        self.send(alert_id, kind, post, channel, message, now)

    def log(self, kind: str, post: str | None, channel: str | None, message: str) -> None:
        log.error("ALERT %s: %s", kind, _about(post, channel, redact(message)))

    def send(
        self, alert_id: int | None, kind: str, post: str | None, channel: str | None, message: str, now: datetime
    ) -> bool:
        """POST one alert to the webhook; once it took it, mark the recorded alert `alert_id` sent."""
        if self._http is None or self.webhook is None:
            return False
        message = redact(message)
        body = {
            "kind": kind,
            "post": post,
            "channel": channel,
            "message": message,
            "at": now.isoformat(),
            "text": f"campaign-scheduler {kind}: {_about(post, channel, message, self.language)}",
        }
        try:
            response = self._http.post(
                self.webhook, data=json.dumps(body), timeout=(5, 10), headers={"Content-Type": "application/json"}
            )
        except requests.RequestException as exc:
            log.error("alert webhook unreachable: %s", exc.__class__.__name__)
            return False
        if response.status_code >= 300:
            log.error("alert webhook answered HTTP %s", response.status_code)
            return False
        if alert_id is not None:
            try:
                self.ledger.alerts.alert_sent(alert_id)
            except LedgerUnavailable:
                with self._lock:
                    self._unmarked.append(alert_id)
        return True

    def flush(self) -> None:
        """Record what was sent while the ledger was unreachable; LedgerUnavailable if it still is."""
        while True:
            with self._lock:
                if not self._unrecorded and not self._unmarked:
                    return
                unrecorded = self._unrecorded[0] if self._unrecorded else None
                unmarked = self._unmarked[0] if unrecorded is None else None
            if unrecorded is not None:
                self.ledger.alerts.record_alert(*unrecorded, unsent=False)
                with self._lock:
                    self._unrecorded.pop(0)
            elif unmarked is not None:
                self.ledger.alerts.alert_sent(unmarked)
                with self._lock:
                    self._unmarked.pop(0)

    def send_unsent(self, now: datetime, *, force: bool = False) -> int:
        """Send the recorded alerts the webhook never received (a kill came between); at most once a
        minute unless `force`. How many went out."""
        if not self.has_webhook:
            return 0
        if not force and self._looked is not None and time.monotonic() - self._looked < RESEND_EVERY:
            return 0
        self._looked = time.monotonic()
        return sum(
            self.send(r.id, r.kind, r.post, r.channel, r.message, r.at)
            for r in self.ledger.alerts.unsent_alerts(now - RESEND_AFTER)
        )


def _about(post: str | None, channel: str | None, message: str, language: str = SOURCE) -> str:
    if post is None:
        return message if channel is None else f"{channel}: {message}"
    if channel is None:
        return f"{post}: {message}"
    return Said.of(N_("{post} on {channel}: {message}"), post=post, channel=channel, message=message).said_in(language)
