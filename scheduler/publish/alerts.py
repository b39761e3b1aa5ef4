"""Alerts: every failure, miss and post in doubt is logged, recorded in the ledger and, when a
webhook is configured (`alerts: {webhook: ...}` in channels.yml or CAMPAIGN_ALERT_WEBHOOK),
POSTed to it as JSON: {"kind", "post", "channel", "message", "at"} (Slack-compatible `text` too).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

import requests

from scheduler.publish.ledger import Ledger
from scheduler.secrets import redact

log = logging.getLogger("scheduler.publish.alerts")


class Alerter:
    def __init__(self, ledger: Ledger, webhook: str | None = None) -> None:
        self.ledger = ledger
        self.webhook = webhook or None
        self._http = requests.Session() if self.webhook else None

    def alert(self, kind: str, post: str | None, channel: str | None, message: str, now: datetime) -> None:
        """Record and send one alert; a broken notifier is logged, never raised."""
        message = redact(message)
        if post is None:
            log.error("ALERT %s: %s", kind, message)
        else:
            log.error("ALERT %s: %s on %s: %s", kind, post, channel, message)
        self.ledger.record_alert(kind, post, channel, message, now)
        if self._http is None or self.webhook is None:
            return
        body = {
            "kind": kind,
            "post": post,
            "channel": channel,
            "message": message,
            "at": now.isoformat(),
            "text": f"campaign-scheduler {kind}: " + (f"{post} on {channel}: " if post else "") + message,
        }
        try:
            response = self._http.post(
                self.webhook, data=json.dumps(body), timeout=(5, 10), headers={"Content-Type": "application/json"}
            )
            if response.status_code >= 300:
                log.error("alert webhook answered HTTP %s", response.status_code)
        except requests.RequestException as exc:
            log.error("alert webhook unreachable: %s", exc.__class__.__name__)
