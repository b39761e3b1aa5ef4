"""Text from a network, made harmless to print in a terminal.

A reply's author and text, a network's answer to a failed send, a URL it returned, a web page's
redirect: whoever wrote them may put in control characters that a terminal obeys. An escape sequence
clears the screen, moves the cursor up and erases a line (the WATCH LIST flag of the reply above),
sets the window title, or makes a link whose text says one address and opens another (OSC 8); a
carriage return writes over the start of the line; a bell rings.

`shown()` keeps every character a person should see and makes every control character visible
instead of obeyed: C0 controls as their Unicode control pictures (ESC is `␛`, BEL `␇`), so an
attempt shows as what it is (`␛]0;…`) rather than disappearing; DEL as `␡`; C1 controls (U+0080 to
U+009F, which some terminals obey like ESC sequences) as `�`. The bidirectional embeddings,
overrides and isolates (U+202A to U+202E, U+2066 to U+2069) are left out: a terminal that does bidi
would let one field reverse the rest of the line; ordinary Arabic or Hebrew text needs none of them.
A tab is a space. Line breaks are kept where the layout has room for them (`lines=True`: each line is
printed indented under its reply), else they are a space, so no field can start a line of its own.

`in_json()` is for JSON output, which must stay exact: the same characters as `\\u` escapes.
"""

from __future__ import annotations

import re

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_VISIBLE: dict[int, str | None] = {
    **{code: chr(0x2400 + code) for code in range(0x20)},
    0x7F: "\u2421",
    **dict.fromkeys(range(0x80, 0xA0), "\ufffd"),
    **dict.fromkeys(_BIDI),
    ord("\t"): " ",
}
_ONE_LINE = {**_VISIBLE, ord("\n"): " "}
_LINES = {**_VISIBLE, ord("\n"): "\n"}
_BREAKS = re.compile("\r\n|[\r\u2028\u2029]")
_IN_JSON = re.compile("[\x7f-\x9f" + "".join(map(chr, _BIDI)) + "]")


def _changes(table: dict[int, str | None]) -> re.Pattern[str]:
    """The characters `shown()` changes with `table`: a text without any is returned as it is (a search
    is many times faster than `translate`, which looks up every character of a non-ASCII text)."""
    codes = {code for code, to in table.items() if to != chr(code)} | {ord(c) for c in "\r\u2028\u2029"}
    return re.compile("[" + "".join(f"\\U{code:08x}" for code in sorted(codes)) + "]")


_ONE_LINE_CHANGES, _LINES_CHANGES = _changes(_ONE_LINE), _changes(_LINES)


def shown(text: str, *, lines: bool = False) -> str:
    """`text` with every control character made visible (or left out, for bidi controls); line breaks
    kept with `lines`, else each a space."""
    if (_LINES_CHANGES if lines else _ONE_LINE_CHANGES).search(text) is None:
        return text
    return _BREAKS.sub("\n", text).translate(_LINES if lines else _ONE_LINE)


def in_json(dumped: str) -> str:
    """JSON text (as json.dumps writes it with ensure_ascii=False) with DEL, C1 and bidi controls
    written as `\\u` escapes: the same data, nothing a terminal obeys. (json.dumps escapes C0 itself.)
    Such characters only occur inside JSON strings, where an escape means the same character."""
    return _IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", dumped)
