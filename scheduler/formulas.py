"""Cells that a spreadsheet program would run as a formula, kept as text in the CSV files we write,
and read back as they were.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)`, `-2+3`, `@SUM(...)`), so a post text or a reply
copied into a sheet could run. As OWASP's "CSV Injection" advises, such a cell gets a `'` in front:
every spreadsheet program then shows it as text (Excel hides the `'`). A cell that already starts with
`'`s before one of those characters gets one more, so reading back is exact: `restore` drops one `'`
from a cell of `'`s followed by a formula character, and leaves every other cell alone.

Not defusedcsv (PyPI): it leaves cells that start with a tab or carriage return (two of OWASP's six)
as they are, and writes `|` as `\\|` in the cells it changes, which cannot be told apart from a `\\|`
that was there, so an export could not be imported back as it was.
"""

from __future__ import annotations

import re

STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP, CSV Injection: what no cell may start with
_DEFUSED = re.compile("^'+[" + re.escape("".join(STARTS)) + "]")


def defuse(value: object) -> object:
    """`value` as a CSV cell that no spreadsheet program runs: text that would be a formula gets a `'`
    in front; anything else (numbers, other text) is returned as it is."""
    if not isinstance(value, str) or value in ("", "-"):
        return value
    if value.startswith(STARTS) or _DEFUSED.match(value):
        return "'" + value
    return value


def restore(value: object) -> object:
    """A cell as `defuse` wrote it → the text it was (one `'` less before a formula character)."""
    if isinstance(value, str) and _DEFUSED.match(value):
        return value[1:]
    return value
