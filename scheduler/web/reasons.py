"""Why a send failed, was held or is in doubt, for people: the ledger keeps the reason as the publisher or
the network gave it (English, sometimes the network's raw JSON, also inside a longer reason such as "gave up after
attempt 8: mastodon.social: HTTP 503: {...}"); a page shows a short summary in the campaign's language where the kind
is known, and the reason itself, cleaned (JSON unpacked to its message), behind a "details" fold. A hold's reason is
written in the campaign's language already (scheduler.publish.holds) and is shown as it is."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from scheduler.words import N_, translator

MAX_SHOWN = 500
HTTP = re.compile(r"(?:^|(?<=[\s:]))HTTP (\d{3}): ?(.*)$", re.DOTALL)  # the network's answer, wherever it begins
# A message field of a JSON answer cut short (the ledger keeps 500 characters), which json.loads cannot read.
FIELD = re.compile(r'"(?:error_description|error|message|detail)"\s*:\s*"((?:[^"\\]|\\.)*)"?')
# A reason's start → what it means, for the kinds the publisher and the adapters write.
KINDS = (
    ("held until fixed", N_("Held until its file is fixed; then it goes out at its time.")),
    ("held by the link check", N_("Held by the link check: a link in the post does not work.")),
    ("held for sign-off", N_("Held for sign-off: it goes out once everyone named approved its exact text.")),
    ("retry requested", N_("A person asked to send it again.")),
    ("the connection dropped after the request was sent", N_("The connection broke after sending: it may be out.")),
    ("no answer in time after the request was sent", N_("The network did not answer in time: it may be out.")),
    ("no answer in time", N_("The network did not answer in time.")),
)
PATTERNS = (
    (
        re.compile(r"^.+ late, more than its max_late of .+; not sent$"),
        N_("Too late to send: its time passed longer ago than its max_late allows."),
    ),
    (
        re.compile(r"^.*It may or may not be out: check the account"),
        N_("It may be out or not: look on the account, then say which on this page."),
    ),
)
# Read after a network's HTTP status: what the publisher says around a refusal it did not get as HTTP.
AFTER = (
    (
        re.compile(r"^part \d+/\d+ was refused, so the thread stops"),
        N_("The network refused a part, so the thread stops."),
    ),
    (
        re.compile(r"^the post changed after part of its thread went out"),
        N_("The post changed after part of its thread went out, so the thread stops."),
    ),
    (re.compile(r"^gave up after attempt \d+"), N_("Tried again and again without success; it is not sent.")),
)
STATUS = (
    ((401, 403), N_("The network refused the account: its key may have expired or lack a permission.")),
    ((404, 410), N_("The network does not know the account or the post any more.")),
    ((413, 422, 400), N_("The network refused the post as it is (its text, length or image).")),
    ((429,), N_("The network asked to slow down (too many requests).")),
)
SERVER = N_("The network had a problem of its own.")
OTHER = N_("The network refused it.")


@dataclass(frozen=True)
class Reason:
    summary: str  # in the campaign's language; "" when the kind is not known
    text: str  # the reason itself, on one line, JSON unpacked to its message, at most MAX_SHOWN characters


def explain(reason: str, language: str) -> Reason:
    gettext = translator(language).gettext
    text = " ".join(reason.split())
    summary = next((gettext(words) for start, words in KINDS if text.lower().startswith(start)), "")
    summary = summary or next((gettext(words) for pattern, words in PATTERNS if pattern.match(text)), "")
    found = HTTP.search(text)
    if found:
        status, body = int(found[1]), found[2]
        text = f"{text[: found.start()]}HTTP {status}: {_message(body)}"
        if not summary:
            known = next((words for codes, words in STATUS if status in codes), None)
            summary = gettext(known or (SERVER if status >= 500 else OTHER))
    summary = summary or next((gettext(words) for pattern, words in AFTER if pattern.match(text)), "")
    return Reason(summary, text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…")


def _message(body: str) -> str:
    """A JSON answer's message (error_description, error, message, detail), else the body itself."""
    try:
        data, end = json.JSONDecoder().raw_decode(body)
    except ValueError:
        cut = FIELD.search(body) if body.startswith("{") else None
        return " ".join(_unescape(cut[1]).split()) if cut else body
    rest = body[end:]  # what the publisher said after the answer ("; parts out: 1 (https://...)")
    found = _unpacked(data)
    return body if found is None else found + rest


def _unpacked(data: object) -> str | None:
    """The message of a JSON answer, or None."""
    for _ in range(3):  # {"error": {"message": ...}}, as Facebook's Graph API nests it
        if not isinstance(data, dict):
            break
        inner = next((data[k] for k in ("error_description", "error", "message", "detail") if k in data), None)
        if isinstance(inner, str):
            return " ".join(inner.split())
        data = inner
    return None


def _unescape(value: str) -> str:
    """A JSON string's content as text ("\\n" a line break); as it is where it cannot be read."""
    try:
        return str(json.loads(f'"{value}"'))
    except ValueError:
        return value
