"""The daemon's daily look at every channel's token (scheduler.channels.tokens).

Alerts 14, 3 and 1 days before a token ends and when it has ended or was revoked, naming the channel
and the step to renew it. Each is raised once: the ledger's alerts remember what was said (the
expiry date is part of it), so a restart, or a second daemon on the same ledger, does not repeat it.
A token found revoked is alerted once a day while it stays so. A token the network lets be refreshed
(an adapter with `can_refresh`) is refreshed within REFRESH_BEFORE of its end, before the first alert,
and the new one written where the old was read from (scheduler.secrets.store).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from scheduler import secrets
from scheduler.channels.tokens import TokenHealth, dated, mark
from scheduler.errors import CampaignError, LedgerUnavailable, SecretMissing
from scheduler.publish.adapters import Channels
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import Clock
from scheduler.secrets import redact
from scheduler.words import N_, Said

log = logging.getLogger("scheduler.publish.tokens")

CHECK_EVERY = timedelta(days=1)
REFRESH_BEFORE = timedelta(days=15)  # a token that can be refreshed is, a day before its 14-day alert
KIND = "token"


class TokenWatch:
    """Asks each channel's adapter about its token and alerts what a person must renew."""

    def __init__(self, channels: Channels, alerter: Alerter) -> None:
        self.channels, self.alerter = channels, alerter

    def run(self, now: datetime, names: Iterable[str] | None = None) -> list[str]:
        """Look at every channel (or `names`) once; the alerts raised now (in the campaign's language).
        A network that cannot be asked now is logged and asked again at the next look."""
        raised = []
        for name in sorted(names if names is not None else self.channels.campaign.channels):
            try:
                health = self._health(name)
                if health is not None and self._refreshed(name, health, now):
                    health = self._health(name)
            except CampaignError as exc:
                log.warning("cannot ask about the token of channel %s now: %s", name, redact(str(exc)))
                continue
            if health is not None and (message := self._alert(name, health, now)) is not None:
                raised.append(message)
        return raised

    def _health(self, name: str) -> TokenHealth | None:
        channel = self.channels.get(name)
        health = channel.token_health()
        token = self.channels.campaign.channels[name].settings.get("token")
        return None if health is None else dated(health, channel.token_lasts, token)

    def _refreshed(self, name: str, health: TokenHealth, now: datetime) -> bool:
        """Refresh a token that can be, once it ends within REFRESH_BEFORE (ahead of the 14-day alert), and
        write the new one where the old was read from; the adapter is made again with it. A token that
        cannot be written (set in the environment) is left alone: the alerts then say to renew it."""
        channel = self.channels.get(name)
        if not channel.can_refresh or health.revoked or health.expires is None or health.expires - now > REFRESH_BEFORE:
            return False
        reference = secrets.reference_of(self.channels.campaign.channels[name].settings.get("token"))
        try:
            if reference is None:
                raise SecretMissing(f"`token:` of channel {name} is not one ${{NAME}} reference")
            secrets.writable(reference)
            path = secrets.store(reference, channel.refresh())
        except CampaignError as exc:
            log.warning("cannot refresh the token of channel %s: %s", name, redact(str(exc)))
            return False
        self.channels.forget(name)
        log.info("refreshed the token of channel %s; the new one is in %s", name, path)
        return True

    def _alert(self, name: str, health: TokenHealth, now: datetime) -> str | None:
        """Raise the alert `health` calls for at `now`, unless it was raised before; what was said. The same
        mark of the same token is said in the same words: that is how the ledger knows it was said."""
        when = f"{health.expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if health.expires else ""
        days = mark(health, now)
        if health.revoked:
            said = Said.of(
                N_("the token of channel {channel} has expired or was revoked (found on {day}): {renew}"),
                channel=name,
                day=f"{now.astimezone(UTC):%Y-%m-%d}",
                renew=health.renew,
            )
        elif health.expires is not None and health.expires <= now:
            said = Said.of(
                N_("the token of channel {channel} expired on {when}: {renew}"),
                channel=name,
                when=when,
                renew=health.renew,
            )
        elif days == 1:
            said = Said.of(
                N_("the token of channel {channel} expires on {when}, within a day: {renew}"),
                channel=name,
                when=when,
                renew=health.renew,
            )
        elif days is not None:
            said = Said.of(
                N_("the token of channel {channel} expires on {when}, within {days} days: {renew}"),
                channel=name,
                when=when,
                days=days,
                renew=health.renew,
            )
        else:
            return None
        message = redact(self.alerter.say(said))
        if self.alerter.ledger.alerts.alerted(KIND, name, message):
            return None
        self.alerter.alert(KIND, None, name, said, now)
        return message


def look(watch: TokenWatch, clock: Clock) -> None:
    """One daily look, as the daemon's job runs it: never raises."""
    try:
        watch.run(clock.now())
    except LedgerUnavailable:
        log.warning("the token check waits for the ledger: it runs again tomorrow")
    except Exception:
        log.exception("the token check failed")
