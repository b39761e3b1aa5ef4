"""Google's side of YouTube: an access token from the refresh token (OAuth 2.0 for installed apps), and
the one place where the YouTube Data API's answers become RetryLater, Rejected or InDoubt.

The daily limits are the errors that are not a matter of seconds: `403` with `errors[].reason`
`quotaExceeded` (the project's daily quota) lasts until the quota resets at midnight Pacific Time, as
Google documents, so the wait given is until then; `400 uploadLimitExceeded` (the channel's uploads in a
24-hour period, a limit YouTube says to try again after 24 hours) waits 24 hours."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from scheduler.channels import http
from scheduler.errors import Rejected, RetryLater
from scheduler.secrets import redact, remember

ACCOUNTS = "https://oauth2.googleapis.com"  # the token endpoint is its /token
PACIFIC = ZoneInfo("America/Los_Angeles")
#: Reasons in a 403's errors[] that mean "today's allowance is used up", not "wait a few seconds".
DAILY = {
    "quotaExceeded": "the project's daily YouTube quota is used up",
    "dailyLimitExceeded": "the project's daily YouTube quota is used up",
}
#: The channel's uploads in 24 hours: YouTube says to try again in 24 hours (not at a fixed time).
UPLOAD_LIMIT = "uploadLimitExceeded"
UPLOAD_LIMIT_WAIT = 24 * 3600.0
#: Reasons that are a short rate limit: the daemon's backoff is right for them.
SHORT = {"rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"}
_EARLY = 60.0  # seconds before its expiry that a cached access token is no longer used


def until_quota_resets(now: datetime | None = None) -> float:
    """Seconds until the next midnight Pacific Time (when Google resets every daily quota), plus a minute."""
    here = (now or datetime.now(PACIFIC)).astimezone(PACIFIC)
    midnight = datetime.combine(here.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return (midnight - here).total_seconds() + 60.0


def reasons(body: Any) -> list[str]:
    """The `errors[].reason` of a Google API error body."""
    error = body.get("error") if isinstance(body, Mapping) else None
    errors = error.get("errors") if isinstance(error, Mapping) else None
    return [str(e["reason"]) for e in errors or [] if isinstance(e, Mapping) and e.get("reason")]


def message(response: requests.Response) -> str:
    """YouTube's own words for a failed answer (`error.message`), secrets blanked, at most 500 characters."""

    def extract(body: Any) -> str | None:
        error = body.get("error") if isinstance(body, Mapping) else None
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return f"{error['message']} ({', '.join(reasons(body)) or 'no reason given'})"
        return None

    return "YouTube: " + http.error_message(response, extract)


def checked(response: requests.Response) -> requests.Response:
    """`response` if 2xx; the quota until Pacific midnight; 429, 5xx and short rate limits as RetryLater;
    401 as RetryLater (the token is asked for again); every other 4xx as Rejected in YouTube's words."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    try:
        body = response.json()
    except ValueError:
        body = None
    found = reasons(body)
    text = message(response)
    daily = [DAILY[reason] for reason in found if reason in DAILY]
    if status in (400, 403) and daily:
        raise RetryLater(f"{daily[0]}; waiting until it resets at midnight Pacific Time ({text})", until_quota_resets())
    if status in (400, 403) and UPLOAD_LIMIT in found:
        reason = f"the channel has reached YouTube's limit of uploads in 24 hours; trying again in 24 hours ({text})"
        raise RetryLater(reason, UPLOAD_LIMIT_WAIT)
    if status == 429 or status >= 500 or (status == 403 and any(reason in SHORT for reason in found)):
        raise RetryLater(text, after=http.retry_after(response))
    if status == 401:
        raise RetryLater(f"{text}; a new access token is asked for on the next attempt")
    raise Rejected(text)


class AccessToken:
    """An access token got with the refresh token, kept until shortly before it expires."""

    def __init__(self, channel: str, session: requests.Session, url: str, client: tuple[str, str], refresh: str):
        self.channel, self.session, self.url = channel, session, url
        self.client_id, self.client_secret = client
        self.refresh_token = refresh
        self._token: str | None = None
        self._expires = 0.0

    def get(self) -> str:
        if self._token is not None and time.monotonic() < self._expires:
            return self._token
        form = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "grant_type": "refresh_token",
        }
        response = http.send(self.session, "POST", self.url, may_publish=False, data=form)
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, Mapping) else {}
        if response.status_code == 400 and body.get("error") == "invalid_grant":
            raise Rejected(
                f"channel {self.channel}: Google no longer accepts the `refresh_token` setting (revoked, expired, "
                "or made for another client): make a new refresh token as docs/writing-posts.md "
                '"How to set up YouTube" says and put it in the secret that `refresh_token` names'
            )
        if response.status_code in (400, 401) and body.get("error") in ("invalid_client", "unauthorized_client"):
            raise Rejected(
                f"channel {self.channel}: Google does not accept the `client_id` and `client_secret` settings "
                f"({body.get('error')}): copy both from the OAuth client in the Google Cloud console"
            )
        http.check_status(response)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise RetryLater(redact("Google's token endpoint answered without an access token"))
        remember(token)  # YouTube may echo it in an error; redact() must know it
        seconds = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._token, self._expires = token, time.monotonic() + max(0.0, seconds - _EARLY)
        return token

    def drop(self) -> None:
        """YouTube did not take the token (401): the next request asks for a new one."""
        self._token = None
