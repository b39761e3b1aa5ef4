"""Telegram: a bot posts to a channel or group through the Bot API.

A post is `sendMessage` (text), `sendPhoto` (one image, the text as its caption) or `sendVideo` (one
.mp4 video, the text as its caption; captions files are not sent: Telegram has none). Telegram has
no alt text for photos, so `MediaItem.alt` is not sent; write the description into the text if
it matters. Telegram has no idempotency key either: a request that may have reached Telegram is
InDoubt, never sent again by the adapter (`idempotent_for = 0`).

The bot token is part of every URL (`/bot<token>/method`), and URLs end up in requests' exception
texts and in urllib3's debug log. So: exceptions are built only from class names and Telegram's
`description`, every text passes through `redact()` with the token remembered, and urllib3's
loggers get a RedactingFilter.

Settings: `token`, `chat_id` (`@channelname` or a numeric id), `parse_mode` (none|HTML|MarkdownV2,
default none; the text is plain and is escaped so that Telegram shows it exactly as written),
`api` (base URL, default https://api.telegram.org).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from typing import Any

from scheduler.channels import http
from scheduler.channels.base import Channel, Receipt
from scheduler.channels.images import fitted, upload_name
from scheduler.channels.tokens import TokenHealth
from scheduler.content.text import utf16_units
from scheduler.errors import ConfigError, InDoubt, Rejected, RetryLater
from scheduler.posts import LengthRule, Limits, MediaItem, MediaRules, RenderedPost, VideoRules
from scheduler.secrets import MASK, redact, remember

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.telegram.org"
PARSE_MODES = {"none": None, "html": "HTML", "markdownv2": "MarkdownV2"}
#: docs: sendMessage text "1-4096 characters after entities parsing", sendPhoto caption
#: "0-1024 characters after entities parsing"; Telegram counts UTF-16 code units.
TEXT = LengthRule("UTF-16 units", 4096, utf16_units)
CAPTION = LengthRule("UTF-16 units", 1024, utf16_units)
#: docs, sendPhoto: "The photo must be at most 10 MB in size. The photo's width and height must not exceed 10000
#: in total. Width and height ratio must be at most 20." GIFs would lose their animation; photos become JPEG,
#: so no alpha.
#: docs: sendVideo "Telegram clients support MPEG4 videos (other formats may be sent as Document)";
#: "Bots can currently send video files of up to 50 MB in size".
VIDEO = VideoRules("Telegram", kinds=frozenset({".mp4"}), max_bytes=50 * 1024 * 1024)
MEDIA = MediaRules(
    max_items=1,
    max_bytes=10_000_000,
    kinds=frozenset({".jpg", ".jpeg", ".png"}),
    max_side_sum=10_000,
    max_ratio=20,
    transparency=False,
    video=VIDEO,
)
#: docs, MarkdownV2 style: these must be escaped with a preceding '\' (and so must '\' itself).
_MARKDOWN_V2_RESERVED = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9:_-]+")


def escape(text: str, parse_mode: str | None) -> str:
    """`text` escaped so that Telegram shows it literally under `parse_mode`."""
    if parse_mode == "HTML":
        return html.escape(text, quote=False)
    if parse_mode == "MarkdownV2":
        return _MARKDOWN_V2_RESERVED.sub(r"\\\1", text)
    return text


class TelegramChannel(Channel):
    """One bot posting to one chat."""

    type_name = "telegram"
    idempotent_for = 0.0
    can_lookup = False

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        token, chat = settings.get("token"), settings.get("chat_id")
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(f"channel {name}: `token` is missing (use ${{TELEGRAM_TOKEN}})")
        if not _TOKEN_CHARACTERS.fullmatch(token.strip()):
            # Said without quoting it: the value is a secret even when it is malformed.
            raise ConfigError(f"channel {name}: `token` has characters a bot token never has")
        if not isinstance(chat, str | int) or not str(chat).strip():
            raise ConfigError(f"channel {name}: `chat_id` is missing (e.g. @channelname)")
        mode = str(settings.get("parse_mode") or "none").lower()
        if mode not in PARSE_MODES:
            raise ConfigError(f"channel {name}: `parse_mode` must be none, HTML or MarkdownV2")
        self._token = token.strip()
        remember(self._token)
        self.chat_id = str(chat).strip()
        self.parse_mode = PARSE_MODES[mode]
        api = str(settings.get("api") or DEFAULT_API).rstrip("/")
        self._methods = f"{api}/bot{self._token}/"
        self._http = http.session()

    @classmethod
    def limits(cls, settings: Mapping[str, Any]) -> Limits:
        return Limits(length=TEXT, length_with_media=CAPTION, media=MEDIA)

    def publish(self, post: RenderedPost, key: str, reply_to: Receipt | None = None) -> Receipt:
        if len(post.media) > 1:
            raise Rejected(f"Telegram takes one image per message; this post has {len(post.media)}")
        problems = self.limits(self.settings).length_for(bool(post.media)).problems(post.text)
        if problems:
            kind = "caption" if post.media else "text"
            raise Rejected(f"Telegram {kind}: " + "; ".join(problems))
        fields = {"chat_id": self.chat_id}
        if self.parse_mode:
            fields["parse_mode"] = self.parse_mode
        if post.media and post.media[0].is_video:
            message = self._send_video(post.media[0], {**fields, "caption": escape(post.text, self.parse_mode)})
        elif post.media:
            item = post.media[0]
            made = fitted(item, MEDIA, "Telegram")  # the rendition's bytes go out, never the file's
            try:
                data = made.read_bytes()
            except OSError as exc:
                raise Rejected(f"cannot read the rendition of {item.path.name}: {exc.strerror}") from None
            message = self._call(
                "sendPhoto",
                may_publish=True,
                data={**fields, "caption": escape(post.text, self.parse_mode)},
                files={"photo": (upload_name(item, made), data, made.mime)},
            )
        else:
            message = self._call(
                "sendMessage",
                may_publish=True,
                data={**fields, "text": escape(post.text, self.parse_mode)},
            )
        receipt = self._receipt(message)
        log.info("telegram: published %s on %s as %s", post.post, self.name, receipt.remote_id)
        return receipt

    def _send_video(self, item: MediaItem, fields: dict[str, str]) -> Any:
        """sendVideo, multipart: the file, its caption, and what the container says (so clients show
        its length and shape before it loads); `supports_streaming` lets it play while it downloads."""
        facts = item.video
        if facts is not None:
            fields |= {"duration": str(round(facts.seconds)), "width": str(facts.width), "height": str(facts.height)}
        try:
            if item.path.stat().st_size > (VIDEO.max_bytes or 0):
                raise Rejected(f"{item.path.name} is over the 50 MB a Telegram bot may upload")
            with item.path.open("rb") as handle:
                return self._call(
                    "sendVideo",
                    may_publish=True,
                    data={**fields, "supports_streaming": "true"},
                    files={"video": (item.path.name, handle, "video/mp4")},
                    timeout=http.upload_timeout(item.path.stat().st_size),
                )
        except OSError as exc:
            raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None

    def token_health(self) -> TokenHealth:
        return TokenHealth(
            posts_as=f"the bot of this token in {self.chat_id}",
            renew="ask @BotFather for a new token (/token) and store it where `token:` points",
            never=True,
            note="Telegram bot tokens have no end date; they end only when revoked with @BotFather",
        )

    def check(self) -> str:
        try:
            bot = _mapping(self._call("getMe", may_publish=False))
        except Rejected as exc:
            if exc.reason.startswith(("HTTP 401", "HTTP 404")):  # 404: not even token-shaped
                raise Rejected("token rejected") from None
            raise
        name = f"@{bot.get('username') or bot.get('id')}"
        chat = _mapping(self._call("getChat", may_publish=False, params={"chat_id": self.chat_id}))
        where = f"@{chat['username']}" if chat.get("username") else str(chat.get("title") or "")
        where = where or self.chat_id
        who = {"chat_id": self.chat_id, "user_id": bot.get("id")}
        member = _mapping(self._call("getChatMember", may_publish=False, params=who))
        status, is_channel = member.get("status"), chat.get("type") == "channel"
        if status == "administrator":
            may_post = bool(member.get("can_post_messages")) if is_channel else True
        else:
            may_post = status == "creator" or (status == "member" and not is_channel)
        if not may_post:
            raise Rejected(
                f"bot {name} cannot post to {where} (it is {status}): make it an administrator allowed to post messages"
            )
        return f"bot {name} can post to {where}"

    def close(self) -> None:
        self._http.close()

    def _receipt(self, message: Any) -> Receipt:
        if not isinstance(message, Mapping) or "message_id" not in message:
            raise InDoubt("Telegram answered without a message id")
        message_id = str(message["message_id"])
        chat = _mapping(message.get("chat"))
        username = chat.get("username")
        if not username and self.chat_id.startswith("@"):
            username = self.chat_id[1:]
        url = f"https://t.me/{username}/{message_id}" if username else None
        return Receipt(url=url, remote_id=message_id)

    # -- the one place where HTTP answers become errors --------------------------------------

    def _call(self, method: str, *, may_publish: bool, **kwargs: Any) -> Any:
        """Telegram's `result` for `method`, or the error that says what to do next."""
        verb = "POST" if may_publish else "GET"  # GET: urllib3 retries reads on 502-504
        # http.send raises its errors unlinked from requests' exception, whose text holds the URL (the token).
        response = http.send(
            self._http, verb, self._methods + method, may_publish=may_publish, allow_redirects=False, **kwargs
        )
        try:
            body = _mapping(response.json())
        except ValueError:
            body = {}
        status = response.status_code
        if 200 <= status < 300 and body.get("ok") is True:
            return body.get("result")
        if 200 <= status < 300:
            if may_publish:
                raise InDoubt(f"Telegram answered HTTP {status} to {method} without a result")
            raise RetryLater(f"Telegram answered HTTP {status} to {method} without a result")
        text = body.get("description") if isinstance(body.get("description"), str) else None
        message = self._scrub(f"HTTP {status}: {text or response.reason or 'no description'}")[:500]
        parameters = _mapping(body.get("parameters"))
        if status == 429 or body.get("error_code") == 429:
            after = parameters.get("retry_after")
            after = float(after) if isinstance(after, int | float) else http.retry_after(response)
            raise RetryLater(message, after=after)
        if status == 504 and may_publish:
            # A gateway that gave up waiting says nothing about whether Telegram sent it.
            raise InDoubt(f"{message} (the message may have been sent)")
        if status >= 500:
            raise RetryLater(message, after=http.retry_after(response, rate_limit=False))
        if parameters.get("migrate_to_chat_id"):
            moved_to = parameters["migrate_to_chat_id"]
            message += f" (the group is now chat {moved_to}: update chat_id)"
        raise Rejected(message)

    def _scrub(self, text: str) -> str:
        return redact(text).replace(self._token, MASK)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
