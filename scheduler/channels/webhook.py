"""The webhook adapter: one HTTP POST per post, to your own receiver or to Slack, Discord, Teams.

Settings: `url` (a ${SECRET} reference where the URL is the credential, as with Slack and
Discord), `format` (`json` | `slack` | `discord` | `teams`, default `json`), `secret` (shared
HMAC key, or a list of them while one is rotated; `json` only), `headers` (extra request headers,
optional).

Format `json` (documented for receivers in docs/webhooks.md), schema `campaign-scheduler.post/1`:

    {"schema": "campaign-scheduler.post/1", "key": "...", "post": "2024/11-19-dag",
     "channel": "intranet", "title": "..." | null, "text": "...", "language": "nl",
     "media": [{"path": "/abs/path/on/the/scheduler/host.jpg", "alt": "..."}],
     "card": {"title": "...", "description": "..."} | null, "sent_at": "2024-11-19T08:00:00.000Z"}

    Headers: Content-Type: application/json; charset=utf-8, Idempotency-Key: <key>, and with a
    `secret` the Standard Webhooks signature (standardwebhooks.com): webhook-id: <key> (the same
    for every try of one delivery, so a receiver can drop a repeat), webhook-timestamp: <Unix
    seconds at sending>, webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">, one
    per secret, space-separated. Deprecated, for one release: X-Campaign-Signature-256:
    sha256=<hex HMAC-SHA256 of the body alone>, with the first secret; it can be replayed.
    Fields may be added within /1; a change in meaning or a removal makes /2. A receiver may
    answer {"id": ..., "url": ...}; they become the receipt.

    A secret `whsec_<base64>` is a Standard Webhooks secret: its key is the decoded bytes. Any
    other string (what this setting always held) is used as its UTF-8 bytes, so no receiver has
    to change its secret to move to the new headers (docs/webhooks.md shows both).

Formats `slack` ({"text"}), `discord` ({"content"} to `url?wait=true`, so the created message
and its id come back) and `teams` (an Adaptive Card message) send the text only: their limits
allow no media, so validate flags a post with images instead of dropping them silently.

Outcomes: 2xx published; 429 and 5xx RetryLater (Retry-After, Discord's `retry_after`); other
statuses Rejected with the receiver's own text; a connection lost after sending InDoubt. A
receiver's deduplication cannot be assumed, so nothing is ever resent by key and there is no
lookup: an InDoubt webhook post is settled by a person.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from standardwebhooks import Webhook

from scheduler.channels._secretguard import detached, guard_urllib3_logs
from scheduler.channels.base import Channel, Receipt
from scheduler.channels.http import error_message, retry_after, send, session
from scheduler.channels.images import fitted
from scheduler.content.text import graphemes, utf16_units
from scheduler.errors import ChannelError, ConfigError, Rejected, RetryLater
from scheduler.media.renditions import is_image
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost, VideoRules
from scheduler.secrets import remember

log = logging.getLogger(__name__)

SCHEMA = "campaign-scheduler.post/1"
FORMATS = ("json", "slack", "discord", "teams")
SIGNATURE_HEADER = "X-Campaign-Signature-256"  # deprecated: the body alone, replayable; dropped in the next release
SECRET_PREFIX = "whsec_"  # a Standard Webhooks secret: base64 of the key's bytes
DISCORD_MAX = 2000  # characters of `content`
SLACK_MAX = 40_000  # characters of `text`; Slack truncates longer messages
TEAMS_MAX_MESSAGE = 28_000  # bytes of the whole message: Teams documents "28 KB"
TEAMS_MAX_TEXT = 24_000  # bytes of text, leaving room for the card and for JSON escapes
_SECRET_HEADER = re.compile(r"(auth|token|secret|key|signature|cookie)", re.I)
_NO_MEDIA = MediaRules(max_items=0)
_TOKEN_LENGTH = 16  # Slack tokens are 24 characters, Discord's 68, Teams' `sig` 43


class WebhookChannel(Channel):
    """One webhook URL in one format."""

    type_name = "webhook"
    idempotent_for = 0.0  # a receiver's deduplication by Idempotency-Key cannot be assumed
    can_lookup = False

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.url = str(settings.get("url") or "").strip()
        self.format = str(settings.get("format") or "json")
        self._secrets = _secrets(name, settings.get("secret"))
        self._signers = [Webhook(_key(name, secret)) for secret in self._secrets]
        extra = settings.get("headers") or {}
        if not self.url.startswith(("https://", "http://")):
            raise ConfigError(f"channel {name}: webhook `url` must be an http(s) URL")
        if self.format not in FORMATS:
            raise ConfigError(f"channel {name}: webhook `format` must be one of {', '.join(FORMATS)}")
        if self._secrets and self.format != "json":
            raise ConfigError(f"channel {name}: `secret` signs the json format only")
        if not isinstance(extra, Mapping):
            raise ConfigError(f"channel {name}: webhook `headers` must be a mapping")
        self._headers = {str(key): str(value) for key, value in extra.items()}
        for part in _url_secrets(self.url):
            remember(part)
        for secret in self._secrets:
            remember(secret)
        for key, value in self._headers.items():
            if _SECRET_HEADER.search(key):
                remember(value)
        guard_urllib3_logs()
        self._http = session()

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        kind = str(settings.get("format") or "json")
        if kind == "discord":
            # Emoji count as two here: the bound is safe whichever way Discord counts.
            return Limits(length=LengthRule("characters", DISCORD_MAX, utf16_units), media=_NO_MEDIA)
        if kind == "slack":
            return Limits(length=LengthRule("characters", SLACK_MAX, utf16_units), media=_NO_MEDIA)
        if kind == "teams":
            rule = LengthRule("characters", None, graphemes, max_bytes=TEAMS_MAX_TEXT)
            return Limits(length=rule, media=_NO_MEDIA)
        media = MediaRules(video=VideoRules("a webhook", alone=False))  # paths and alt texts only
        return Limits(length=LengthRule("characters", None, graphemes), media=media)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        limits = self.limits(self.settings)
        problems = limits.length.problems(post.text)
        if limits.media.max_items is not None and len(post.media) > limits.media.max_items:
            problems.append(f"the {self.format} webhook format carries no images")
        if problems:
            raise Rejected("; ".join(problems))
        url, payload = self._request(post, key)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if self.format == "teams" and len(body) > TEAMS_MAX_MESSAGE:
            raise Rejected(f"the Teams message is {len(body):,} bytes, over Teams' 28 KB")
        headers = {
            **self._headers,
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": key,
        }
        if self._secrets:
            headers.update(self._signed(key, datetime.now(UTC), body))
        response = self._send("POST", url, may_publish=True, data=body, headers=headers)
        receipt = self._receipt(response)
        log.info("published %s on %s (%s webhook)", post.post, self.name, self.format)
        return receipt

    def _signed(self, message_id: str, at: datetime, body: bytes) -> dict[str, str]:
        """The signature headers: Standard Webhooks' (one signature per secret, so a receiver holding
        either key during a rotation verifies) and, for one more release, the old body-only one."""
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": " ".join(signer.sign(message_id, at, body) for signer in self._signers),
            SIGNATURE_HEADER: sign(self._secrets[0], body),
        }

    def check(self) -> str:
        """HEAD the URL: any answer but 404/410 or 5xx proves a receiver is there. Never posts."""
        try:
            response = self._send("HEAD", self.url, may_publish=False)
        except RetryLater as exc:
            raise RetryLater(f"webhook unreachable: {exc.reason}", exc.after) from None
        status = response.status_code
        if status >= 500:
            raise RetryLater(f"webhook unreachable: HTTP {status} to HEAD", retry_after(response))
        if status in (404, 410):
            raise Rejected(f"webhook URL not found (HTTP {status} to HEAD): wrong or deleted")
        if status == 405:
            return "webhook reachable (HTTP 405 to HEAD: the receiver takes POST only, as expected)"
        return f"webhook reachable (HTTP {status} to HEAD)"

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """The one place where requests' errors become channel errors (via http.send)."""
        try:
            # No redirects: requests would turn a redirected POST into a GET and report success.
            return send(self._http, method, url, allow_redirects=False, **kwargs)
        except ChannelError as exc:
            error = exc
        raise detached(error)  # requests' exception names the URL, which may be the secret

    def _request(self, post: RenderedPost, key: str) -> tuple[str, dict[str, Any]]:
        """The URL to POST to and the payload, for this channel's format."""
        if self.format == "slack":
            return self.url, {"text": post.text}
        if self.format == "discord":
            return _with_query(self.url, wait="true"), {"content": post.text}
        if self.format == "teams":
            card = {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{"type": "TextBlock", "text": post.text, "wrap": True}],
            }
            attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            return self.url, {"type": "message", "attachments": [attachment]}
        card_fields = {"title": post.card.title, "description": post.card.description} if post.card else None
        return self.url, {
            "schema": SCHEMA,
            "key": key,
            "post": post.post,
            "channel": post.channel,
            "title": post.title,
            "text": post.text,
            "language": post.language,
            "media": [_media(item, self.name) for item in post.media],
            "card": card_fields,
            "sent_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }

    def _receipt(self, response: requests.Response) -> Receipt:
        """The receipt of a 2xx answer; the channel error of any other."""
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetryLater(self._error(response), after=self._wait(response))
        if not 200 <= status < 300:
            raise Rejected(self._error(response))
        if self.format == "teams":
            # Teams' older connectors answer 200 with the failure in the body ("1" is success).
            text = response.text.strip()
            if text not in ("", "1") and re.search(r"error|fail", text, re.I):
                raise Rejected(self._error(response))
            return Receipt(url=None)
        if self.format in ("json", "discord"):
            body = _json(response)
            if isinstance(body, Mapping):
                remote = body.get("id")
                remote_id = str(remote) if isinstance(remote, str | int) else None
                return Receipt(url=self._link(body, remote_id), remote_id=remote_id)
        return Receipt(url=None)

    def _link(self, body: Mapping[str, Any], remote_id: str | None) -> str | None:
        if self.format == "json":
            url = body.get("url")
            return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
        guild, channel = body.get("guild_id"), body.get("channel_id")
        if remote_id and isinstance(guild, str) and isinstance(channel, str):
            return f"https://discord.com/channels/{guild}/{channel}/{remote_id}"
        return None

    def _error(self, response: requests.Response) -> str:
        return error_message(response, _discord_text if self.format == "discord" else None)

    def _wait(self, response: requests.Response) -> float | None:
        if self.format == "discord":
            body = _json(response)
            value = body.get("retry_after") if isinstance(body, Mapping) else None
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                return float(value)
        return retry_after(response)


def _secrets(name: str, value: Any) -> list[str]:
    """The `secret` setting as a list: one secret, or several while one is rotated (the first also
    keys the deprecated header)."""
    if value is None or value == "" or value == []:
        return []
    found = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) and item for item in found):
        raise ConfigError(f"channel {name}: webhook `secret` must be a secret, or a list of secrets while rotating one")
    return list(found)


def _key(name: str, secret: str) -> bytes:
    """The HMAC key of a secret: `whsec_` + base64 is Standard Webhooks' form, decoded; any other
    string is the key as UTF-8, as this setting always was."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode("utf-8")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        # The secret itself stays out of the message.
        raise ConfigError(
            f"channel {name}: a webhook `secret` that starts with {SECRET_PREFIX} must go on with a key in base64"
            " (docs/webhooks.md shows how to make one)"
        )
    return key


def sign(secret: str, body: bytes) -> str:
    """The deprecated signature header value for `body`: "sha256=" + hex HMAC-SHA256 with `secret`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute over the raw body and compare in constant time."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def _url_secrets(url: str) -> list[str]:
    """The parts of a webhook URL to blank out of every message and log.

    A Slack or Discord hook URL is its own credential, and logs and echoing receivers show it in
    pieces: urllib3 logs the path, a receiver may repeat only the token. So the whole URL, its
    path and query, and every path segment or query value long enough to be a token.
    """
    parts = urlsplit(url)
    found = [url, parts.path + (f"?{parts.query}" if parts.query else "")]
    found += [segment for segment in parts.path.split("/") if len(segment) >= _TOKEN_LENGTH]
    found += [value for _, value in parse_qsl(parts.query) if len(value) >= _TOKEN_LENGTH]
    return [part for part in found if part.strip("/")]


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _discord_text(body: Any) -> str | None:
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        code = body.get("code")
        return f"{body['message']} (code {code})" if isinstance(code, int) and code else body["message"]
    return None


def _media(item: MediaItem, channel: str) -> dict[str, str]:
    """An image's path and alt text, with `rendition`: a copy of it without EXIF, XMP or GPS, for receivers
    that pass the image on."""
    entry = {"path": str(item.path), "alt": item.alt}
    if not item.is_video and is_image(item.path):
        entry["rendition"] = str(fitted(item, MediaRules(), f"webhook {channel}").path)
    return entry
