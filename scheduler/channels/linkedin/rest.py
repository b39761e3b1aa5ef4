"""LinkedIn's versioned REST API (`/rest/...`) for one channel: the headers every call carries, and the
one place where LinkedIn's answers become channel errors.

Every call carries `Authorization: Bearer <token>`, `LinkedIn-Version: <YYYYMM>` (the channel's
`version:`) and `X-Restli-Protocol-Version: 2.0.0`. An image's bytes go to the upload URL LinkedIn
gives, which is signed already: that PUT (an image, each part of a video, a captions file) goes
through a second session without any of these headers (`upload`), so the token never travels to the
upload host.

LinkedIn's error bodies are `{"status", "serviceErrorCode", "code", "message"}`. Each status that a
person must act on gets its own words: 401 (the token expired, after 60 days, or was revoked), 403
(the member is no longer an administrator of the Page, or the token lacks `w_organization_social`),
426 (LinkedIn retired the pinned `version:`; versions live about a year), 429 (a daily limit:
LinkedIn resets them at midnight UTC, so the wait is until then unless LinkedIn names another).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

import requests

from scheduler.channels import http
from scheduler.channels._secretguard import detached
from scheduler.errors import ChannelError, Rejected, RetryLater, TokenRejected
from scheduler.secrets import redact

DEFAULT_API = "https://api.linkedin.com"
DEFAULT_OAUTH = "https://www.linkedin.com"  # where the token introspection is
PROTOCOL = "2.0.0"


class Rest:
    """The API of one channel: its token, its pinned version, its organization."""

    def __init__(self, channel: str, api: str, token: str, version: str, author: str) -> None:
        self.channel, self.version, self.author = channel, version, author
        self.base = api.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self._http = http.session()
        self._http.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "LinkedIn-Version": version,
                "X-Restli-Protocol-Version": PROTOCOL,
            }
        )
        self._bare = http.session()  # for upload URLs: no token, no API headers

    def call(self, method: str, path: str, *, may_publish: bool = False, **kwargs: Any) -> requests.Response:
        """One API request, answered (any status); unreachable or timed out becomes a channel error."""
        # A redirected POST would be replayed as a GET by requests: never follow, say so instead.
        kwargs.setdefault("allow_redirects", False)
        try:
            return http.send(self._http, method, self.base + path, may_publish=may_publish, **kwargs)
        except RetryLater as exc:
            error: ChannelError = RetryLater(f"LinkedIn unreachable ({self.host}): {exc.reason}", exc.after)
        except ChannelError as exc:
            error = exc
        raise detached(error)

    def checked(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """`call`, and its answer if 2xx; else the channel error its status means."""
        response = self.call(method, path, **kwargs)
        if 200 <= response.status_code < 300:
            return response
        self.fail(response)

    def upload(self, url: str, data: bytes, mime: str, name: str) -> str:
        """PUT bytes (an image, a video's part, a captions file) to LinkedIn's signed upload URL, without the
        API's headers, under a timeout that follows their size; the `ETag` LinkedIn answers with ("" if none)."""
        try:
            # Uploading publishes nothing (an upload no post uses is dropped), so a lost answer is RetryLater.
            response = http.send(
                self._bare,
                "PUT",
                url,
                may_publish=False,
                data=data,
                headers={"Content-Type": mime},
                timeout=http.upload_timeout(len(data)),
            )
        except ChannelError as exc:
            error: ChannelError = RetryLater(f"the upload of {name} to LinkedIn failed: {exc.reason}")
        else:
            if 200 <= response.status_code < 300:
                return response.headers.get("ETag", "").strip()
            error = RetryLater(f"the upload of {name} to LinkedIn failed: {http.error_message(response, words)}")
        raise detached(error)

    def introspect(self, oauth: str, client_id: str, client_secret: str, token: str) -> Mapping[str, Any]:
        """LinkedIn's word on `token` (POST /oauth/v2/introspectToken, form-encoded, with the app's
        client id and secret; no API headers): `active`, `status` (active, expired, revoked), `expires_at`."""
        form = {"client_id": client_id, "client_secret": client_secret, "token": token}
        url = oauth.rstrip("/") + "/oauth/v2/introspectToken"
        try:
            response = http.send(self._bare, "POST", url, may_publish=False, data=form, allow_redirects=False)
        except RetryLater as exc:
            raise detached(
                RetryLater(f"LinkedIn unreachable ({urlsplit(url).netloc}): {exc.reason}", exc.after)
            ) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetryLater(f"LinkedIn's token introspection answered HTTP {status}", http.retry_after(response))
        body = response.json() if 200 <= status < 300 and _is_json(response) else None
        if not isinstance(body, Mapping):
            raise Rejected(
                f"channel {self.channel}: LinkedIn's token introspection answered HTTP {status}: check the "
                "channel's client_id and client_secret (the app's, under Auth in LinkedIn's developer portal)"
            )
        return body

    def fail(self, response: requests.Response) -> NoReturn:
        """The channel error for a LinkedIn answer that is not 2xx, in a person's words."""
        status = response.status_code
        if 300 <= status < 400:
            target = redact(response.headers.get("Location", "elsewhere"))
            raise Rejected(f"LinkedIn redirects to {target}: set the channel's `api` to that address")
        said = "LinkedIn: " + http.error_message(response, words)
        where = f"channel {self.channel}"
        if status == 401:
            raise TokenRejected(
                f"{where}: LinkedIn refused the access token: it expired (they last 60 days) or was revoked "
                f"({said}). Make a new token for the Page's administrator with the scope w_organization_social "
                "and put it in the secret that the channel's `token:` setting names in channels.yml"
            )
        if status == 403:
            raise Rejected(
                f"{where}: LinkedIn does not let this token post as {self.author} ({said}). The member the "
                "token belongs to must be an administrator of that Page (Page admin tools → Manage admins), "
                "and the token needs the scope w_organization_social; after fixing either, make a new token"
            )
        if status == 426:
            raise Rejected(
                f"{where}: LinkedIn no longer serves API version {self.version}, which the channel's `version:` "
                f"setting in channels.yml pins ({said}). LinkedIn retires each version about a year after it "
                "comes out: set `version:` to a recent month (YYYYMM) from LinkedIn's API versioning page"
            )
        if status == 429:
            raise RetryLater(
                f"{where}: LinkedIn's daily limit for this app or member is reached ({said}); "
                "LinkedIn resets it at midnight UTC",
                after=until_reset(response),
            )
        if status >= 500:
            raise RetryLater(said, after=http.retry_after(response, rate_limit=False))
        raise Rejected(said)

    def close(self) -> None:
        self._http.close()
        self._bare.close()


def until_reset(response: requests.Response, now: datetime | None = None) -> float:
    """Seconds to wait after a 429: LinkedIn's Retry-After where it gives one, else until the next
    midnight UTC, when LinkedIn's daily limits start again (never seconds of backoff: the same
    call an hour later is refused the same)."""
    said = http.retry_after(response, rate_limit=False)
    if said is not None:
        return said
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def words(body: Any) -> str | None:
    """LinkedIn's error body in words: its message, and its code where it adds one."""
    if not isinstance(body, Mapping):
        return None
    message, code = body.get("message"), body.get("code")
    parts = [part for part in (message, code) if isinstance(part, str) and part]
    for detail in input_errors(body):
        described = detail.get("description")
        if isinstance(described, str) and described and described not in parts:
            parts.append(described)
    return " · ".join(parts) or None


def input_errors(body: Any) -> list[Mapping[str, Any]]:
    """The `errorDetails.inputErrors` of a LinkedIn error body (a 422 names DUPLICATE_POST there)."""
    details = body.get("errorDetails") if isinstance(body, Mapping) else None
    found = details.get("inputErrors") if isinstance(details, Mapping) else None
    return [item for item in found if isinstance(item, Mapping)] if isinstance(found, list) else []


def _is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True
