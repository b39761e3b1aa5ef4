"""A fake Telegram Bot API: getMe, getChat, getChatMember, sendMessage, sendPhoto, sendVideo.

As documented (core.telegram.org/bots/api): methods live at /bot<token>/<method> (names are
case-insensitive), take GET query or POST form/multipart, and answer {"ok": true, "result": ...}
or {"ok": false, "error_code": N, "description": "...", "parameters": {"retry_after": S}}.
Text is measured in UTF-16 units after entities parsing: 4096 for a message, 1024 for a caption.

The parse modes are checked strictly enough to catch bad escaping: in MarkdownV2 every reserved
character must be escaped (this fake knows no formatting, so an unescaped one is an error); in
HTML a bare `<`, `>` or `&` is an error. `.messages` holds what readers would see (`shown`).

Unlike Telegram, a 401 echoes the request path (which holds the token), so tests can prove the
adapter never passes it on.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

TOKEN = "123456:fake-telegram-token"
RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityError(ValueError):
    """Telegram's "can't parse entities"."""


class FakeTelegram(FakeServer):
    """One bot (`bot_username`) that may or may not be an administrator of its channels."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        bot_username: str = "campagne_bot",
        channels: tuple[str, ...] = ("@campagne",),
        bot_status: str = "administrator",
        echo_path: bool = True,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__(latency_ms)
        self.token = token
        self.bot = {"id": 7000001, "is_bot": True, "first_name": "Campagne", "username": bot_username}
        self.chats = {
            name: {"id": -1001000000000 - number, "type": "channel", "title": name[1:].title(), "username": name[1:]}
            for number, name in enumerate(channels, start=1)
        }
        self.bot_status = bot_status
        self.echo_path = echo_path
        self.messages: list[dict[str, Any]] = []
        self._message_ids = itertools.count(101)

    def handle(self, request: Request) -> Reply:
        prefix, _, method = request.path[1:].partition("/")
        if prefix != f"bot{self.token}":
            description = "Unauthorized"
            if self.echo_path:
                description += f": no bot for {request.path}"
            return _error(401, description)
        handlers = {
            "getme": self._get_me,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "sendvideo": self._send_video,
        }
        handler = handlers.get(method.lower())
        if handler is None:
            return _error(404, "Not Found: method not found")
        with self.lock:
            return handler(request)

    def _chat(self, request: Request) -> dict[str, Any] | None:
        chat_id = request.value("chat_id")
        for name, chat in self.chats.items():
            if chat_id in (name, str(chat["id"])):
                return chat
        return None

    def _get_me(self, request: Request) -> Reply:
        return _ok(self.bot)

    def _get_chat(self, request: Request) -> Reply:
        chat = self._chat(request)
        return _ok(chat) if chat else _error(400, "Bad Request: chat not found")

    def _get_chat_member(self, request: Request) -> Reply:
        if self._chat(request) is None:
            return _error(400, "Bad Request: chat not found")
        member: dict[str, Any] = {"user": self.bot, "status": self.bot_status}
        if self.bot_status == "administrator":
            member["can_post_messages"] = True
        return _ok(member)

    def _send_message(self, request: Request) -> Reply:
        return self._send(request, request.value("text", "") or "", limit=4096, photo=False)

    def _send_photo(self, request: Request) -> Reply:
        if "photo" not in request.files:
            return _error(400, "Bad Request: there is no photo in the request")
        return self._send(request, request.value("caption", "") or "", limit=1024, photo=True)

    def _send_video(self, request: Request) -> Reply:
        """docs: sendVideo takes `video` as multipart/form-data, at most 50 MB from a bot; the message has a Video."""
        upload = request.files.get("video")
        if upload is None:
            return _error(400, "Bad Request: there is no video in the request")
        if len(upload.data) > 50 * 1024 * 1024:
            return _error(413, "Request Entity Too Large")
        reply = self._send(request, request.value("caption", "") or "", limit=1024, photo=True, field="video")
        if reply.status == 200:
            message = reply.body["result"]
            del message["photo"]
            message["video"] = {
                "file_id": f"video-{message['message_id']}",
                "duration": int(request.value("duration") or 0),
                "width": int(request.value("width") or 0),
                "height": int(request.value("height") or 0),
                "mime_type": upload.content_type,
                "file_size": len(upload.data),
            }
            self.messages[-1] |= {"video": message["video"], "supports_streaming": request.value("supports_streaming")}
        return reply

    def _send(self, request: Request, raw: str, *, limit: int, photo: bool, field: str = "photo") -> Reply:
        chat = self._chat(request)
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        mode = request.value("parse_mode")
        try:
            shown = parse(raw, mode)
        except EntityError as exc:
            return _error(400, f"Bad Request: can't parse entities: {exc}")
        if not photo and not shown.strip():
            return _error(400, "Bad Request: message text is empty")
        if utf16_units(shown) > limit:
            what = "message caption is too long" if photo else "message is too long"
            return _error(400, f"Bad Request: {what}")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            ("caption" if photo else "text"): shown,
        }
        if photo:
            upload = request.files[field]
            message["photo"] = [
                {
                    "file_id": f"photo-{message['message_id']}",
                    "width": 640,
                    "height": 480,
                    "file_size": len(upload.data),
                }
            ]
        self.messages.append(
            {**message, "raw": raw, "parse_mode": mode, "shown": shown, "upload": request.files.get(field)}
        )
        return _ok(message)


def parse(text: str, parse_mode: str | None) -> str:
    """What Telegram shows for `text` under `parse_mode`; EntityError where it would refuse."""
    if parse_mode == "MarkdownV2":
        shown, index = [], 0
        while index < len(text):
            char = text[index]
            if char == "\\":
                if index + 1 >= len(text) or not 1 <= ord(text[index + 1]) <= 126:
                    raise EntityError(f"can't escape the character after byte offset {index}")
                shown.append(text[index + 1])
                index += 2
                continue
            if char in RESERVED:
                raise EntityError(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
            shown.append(char)
            index += 1
        return "".join(shown)
    if parse_mode == "HTML":
        bare = _ENTITY.sub("", text)
        for char in "<>&":
            if char in bare:
                raise EntityError(f"unsupported start tag or bare {char!r}")
        return _ENTITY.sub(_html_entity, text)
    if parse_mode:
        raise EntityError(f"unsupported parse_mode {parse_mode}")
    return text


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _html_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _HTML_NAMED[name]


def _ok(result: Any) -> Reply:
    return Reply(200, {"ok": True, "result": result})


def _error(code: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(code, body)


def flood(retry_after: int) -> dict[str, Any]:
    """The body Telegram sends with 429 when flood control kicks in."""
    description = f"Too Many Requests: retry after {retry_after}"
    return {"ok": False, "error_code": 429, "description": description, "parameters": {"retry_after": retry_after}}
