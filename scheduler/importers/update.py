"""A post file with some of its front matter and/or its text changed, everything else kept.

Only the keys that change are written again, each in place (a new key at the end of the front
matter): the other keys, their order, their comments and the text are kept as they are, byte for
byte. The front matter written is read back and must hold exactly the keys and values wanted; if a
file is written in a way this cannot edit in place (a key split over lines oddly, say), the whole
front matter is written again by the YAML library instead: comments are then lost, a key never.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scheduler.content import yamlfile

REMOVE = object()  # as a value: take the key out of the post's own front matter
_BOUNDARY = re.compile(r"^-{3}\s*$")


class CannotUpdate(ValueError):
    """The file's front matter cannot be read (the post has an error: campaign validate shows it)."""


def updated(text: str, changes: Mapping[str, Any], body: str | None) -> str:
    """`text` (a post file) with each key of `changes` set to its value (or removed, for REMOVE), and
    its body replaced by `body` unless that is None. Read as posts are read (scheduler.content.files):
    without a byte-order mark, with \n line ends; written so."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.splitlines(keepends=True)
    if lines and _BOUNDARY.match(lines[0]):
        end = next((i for i in range(1, len(lines)) if _BOUNDARY.match(lines[i])), None)
        if end is None:
            raise CannotUpdate("its front matter has no closing --- line")
        front_lines, old_body = lines[1:end], "".join(lines[end + 1 :])
    else:
        front_lines, old_body = [], text
    try:
        data = yamlfile.load("".join(front_lines)) if front_lines else None
    except yamlfile.YamlError as exc:
        raise CannotUpdate(f"its front matter cannot be read (line {exc.line + 1}: {exc.message})") from None
    data = data if data is not None else yamlfile.LineDict()
    if not isinstance(data, yamlfile.LineDict):
        raise CannotUpdate("its front matter is not keys and values")
    wanted = {k: v for k, v in data.items()}
    for key, value in changes.items():
        if value is REMOVE:
            wanted.pop(key, None)
        else:
            wanted[key] = value
    front = _in_place(front_lines, data, changes)
    try:
        kept = yamlfile.load(front) if front.strip() else {}
    except yamlfile.YamlError:
        kept = None
    if kept is None and not wanted:
        kept = {}
    if _plain(kept) != _plain(wanted):
        front = yamlfile.dump(_plain(wanted)) if wanted else ""
    new_body = old_body if body is None else body.rstrip("\n") + "\n"
    if not front.strip() and not front_lines:
        return new_body
    return f"---\n{front}{'' if not front or front.endswith(chr(10)) else chr(10)}---\n{new_body}"


def _in_place(lines: list[str], data: yamlfile.LineDict, changes: Mapping[str, Any]) -> str:
    """The front matter's lines with each changed key's lines replaced (from its line to the next
    key's, without the comments and blank lines just above that next key)."""
    starts = sorted(data.line_of(k) for k in data)
    edited = list(lines)
    spans: list[tuple[int, int, str]] = []
    added: list[str] = []
    for key, value in changes.items():
        written = "" if value is REMOVE else _entry(key, value)
        if key not in data:
            if written:
                added.append(written)
            continue
        first = data.line_of(key)
        following = [line for line in starts if line > first]
        last = (following[0] - 1) if following else len(lines)
        while last > first and (not lines[last - 1].strip() or lines[last - 1].lstrip().startswith("#")):
            last -= 1
        spans.append((first, last, written))
    for first, last, written in sorted(spans, reverse=True):
        edited[first - 1 : last] = [written] if written else []
    front = "".join(edited)
    if added and front and not front.endswith("\n"):
        front += "\n"
    return front + "".join(added)


def _entry(key: str, value: Any) -> str:
    """`key: value` as a line (or lines) of block front matter."""
    written = yamlfile.dump({key: value})
    if written.startswith("{") and written.endswith("}\n"):  # a lone scalar comes out as a flow mapping
        written = written[1:-2] + "\n"
    return written


def _plain(value: Any) -> Any:
    """Plain dicts and lists (the loader's remember their lines), for comparing."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
