"""One account's client for a Meta API that answers as Graph does (Instagram, Threads), and the one place
where its answers become channel errors.

The token travels as the documented `access_token` parameter: in the body of every POST, in the query
string of a GET (which the redacting filter on urllib3's loggers blanks, scheduler.channels._secretguard).

Errors (codes, not HTTP statuses, say what happened; Instagram Platform "Error codes"):
`190` token expired or revoked → TokenRejected with the step to renew it; `9` with subcode `2207042`
(the 24-hour publishing limit) → PublishingLimit, a RetryLater; `4` with subcode `2207051` (the account's
publishing restricted as spam) → Rejected, never retried automatically; `9007` (a container not ready)
and other throttling (`4`, `9`, `17`, `32`, `613`) → RetryLater; `10` and `200`-`299` → Rejected naming the
permissions; `1`, `2`, `is_transient` and 5xx → RetryLater; anything else → Rejected with Meta's message,
code and fbtrace_id. The words come from scheduler.channels.facebook.graph (`said`), the shape being Graph's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from scheduler.channels import http
from scheduler.channels._secretguard import detached
from scheduler.channels.base import Receipt
from scheduler.channels.facebook.graph import THROTTLED, TRANSIENT, integer, said, usage_wait
from scheduler.errors import ChannelError, Rejected, RetryLater, TokenRejected
from scheduler.secrets import MASK, redact, remember

log = logging.getLogger(__name__)

_TOKEN = 190
_LIMIT = (9, 2207042)  # "the account has reached its publishing limit" (25 or 100 posts in 24 hours)
_SPAM = (4, 2207051)  # "this action was deemed spam": the account's publishing is restricted
_PERMISSION = frozenset({10, *range(200, 300)})
_NOT_READY = 9007  # "Media ID is not available": the container is not FINISHED yet; nothing was published
LIMIT_LOOK_AGAIN = 3600.0  # seconds: Meta's rolling window names no reset; look again after this


class PublishingLimit(RetryLater):
    """The account published as many posts as Meta allows in 24 hours: the send waits for the window."""


class MetaApi:
    """Requests to one Meta API (`base` + `version`) for one account (`user_id`) of one channel."""

    def __init__(
        self,
        channel: str,
        network: str,
        user_id: str,
        token: str,
        base: str,
        version: str,
        *,
        renew: str,
        permissions: str,
    ) -> None:
        """`network` names it in messages ("Instagram"); `renew` is the step to a new token and `permissions`
        the scopes a token needs, both told where Meta refuses the token."""
        self.channel, self.network, self.user_id = channel, network, user_id
        self._token = token
        remember(token)  # Meta may echo it back; redact() must know it
        self.base, self.version = base, version
        self.renew, self.permissions = renew, permissions
        self._http = http.session()

    @property
    def token(self) -> str:
        return self._token

    @property
    def session(self) -> requests.Session:
        """The connection pool, also for fetching the campaign's public media (scheduler.channels.meta.served)."""
        return self._http

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        may_publish: bool = False,
        params: Mapping[str, str] | None = None,
        data: list[tuple[str, str]] | None = None,
        versioned: bool = True,
        gone_is_none: bool = False,
    ) -> Any:
        """One request; its JSON body if it succeeded, else the channel error it means. `may_publish`: a
        request that can make a post (a lost answer is then in doubt). `versioned=False` for the endpoints
        that live outside the versions (refresh_access_token). `gone_is_none`: Meta's "no such object"
        (code 100/33) is None instead of an error."""
        url = f"{self.base}/{self.version}{path}" if versioned else f"{self.base}{path}"
        if method == "GET":
            params = {**(params or {}), "access_token": self._token}
        else:
            data = [*(data or []), ("access_token", self._token)]
        try:
            response = http.send(
                self._http,
                method,
                url,
                may_publish=may_publish,
                params=params,
                data=data,
                allow_redirects=False,  # a redirected POST would be replayed as a GET
            )
        except RetryLater as exc:
            error: ChannelError = RetryLater(f"{self.network} unreachable ({self.base}): {exc.reason}", exc.after)
        except ChannelError as exc:
            error = exc
        else:
            try:
                if gone_is_none and _is_gone(response):
                    return None
                return self._checked(response)
            except ChannelError as exc:
                error = exc
        raise detached(error)

    def _checked(self, response: requests.Response) -> Any:
        status = response.status_code
        body = _json(response)
        problem = body.get("error") if isinstance(body, Mapping) else None
        if 200 <= status < 300 and not isinstance(problem, Mapping):
            return body
        if 300 <= status < 400:
            target = self.scrub(response.headers.get("Location", "elsewhere"))
            raise Rejected(f"{self.base} redirects to {target}: set the channel's `api:` to that address")
        if not isinstance(problem, Mapping):
            text = self.scrub(response.text.strip() or response.reason or "")[:300]
            message = f"HTTP {status} from {self.network}: {text}"
            if status == 429 or status >= 500:
                raise RetryLater(message, http.retry_after(response, rate_limit=status == 429))
            raise Rejected(message)
        raise self.error(status, problem, response)

    def error(self, status: int, problem: Mapping[str, Any], response: requests.Response) -> ChannelError:
        """The channel error that an error body means."""
        code, subcode = integer(problem.get("code")), integer(problem.get("error_subcode"))
        words = self.scrub(said(status, code, subcode, problem, self.network))[:500]
        if code == _TOKEN:
            return TokenRejected(
                f"token rejected: {self.network} refused the token of channel {self.channel} (expired or revoked). "
                f"{self.renew}. {words}"
            )
        if (code, subcode) == _LIMIT:
            return PublishingLimit(
                f"{self.network} account {self.user_id} has reached its publishing limit for the last 24 hours; "
                f"the post waits until the window frees. {words}",
                usage_wait(response) or LIMIT_LOOK_AGAIN,
            )
        if (code, subcode) == _SPAM:
            return Rejected(
                f"{self.network} restricted the publishing of account {self.user_id} as spam (code 4/2207051); "
                "the post is not sent again automatically. Check the account in the app (notices, appeals), "
                f"then send it again with `campaign retry`. {words}"
            )
        if code == _NOT_READY:
            return RetryLater(f"{self.network} has not finished preparing the post's media. {words}", None)
        if code in THROTTLED or code == 9:
            return RetryLater(f"{self.network} is throttling calls. {words}", usage_wait(response))
        if code in _PERMISSION:
            return Rejected(
                f"the token of channel {self.channel} lacks a permission: it needs {self.permissions}. {words}"
            )
        if code in TRANSIENT or problem.get("is_transient") is True or status >= 500:
            return RetryLater(f"{self.network} had a temporary problem. {words}", usage_wait(response))
        return Rejected(words)

    def receipt(self, media_id: str) -> Receipt:
        """A published post's receipt, its permalink read; without it when the network cannot say now (the post
        is out either way)."""
        try:
            body = mapping(self.call("GET", f"/{quote(media_id, safe='')}", params={"fields": "permalink"}))
        except ChannelError as exc:
            log.warning("%s: post %s is out, its permalink not read: %s", self.channel, media_id, exc.reason)
            return Receipt(url=None, remote_id=media_id)
        link = body.get("permalink")
        return Receipt(url=link if isinstance(link, str) and link else None, remote_id=media_id)

    def scrub(self, text: str) -> str:
        return redact(text).replace(self._token, MASK)


def _is_gone(response: requests.Response) -> bool:
    problem = mapping(_json(response)).get("error")
    return isinstance(problem, Mapping) and (
        integer(problem.get("code")),
        integer(problem.get("error_subcode")),
    ) == (100, 33)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` where it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}
