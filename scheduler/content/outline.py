"""Templates of one shape: their literal text lifted out, their outline, and whether they differ per channel.

Compiling is most of the cost of a template. Templates of one shape share their compiled code (their
literal text is lifted out, see _lift_literals), and a template of only text and `{{ }}` expressions is
not even parsed once another post had the same expressions on the same lines (see _outline): the full
path's result for the first is the result for all. A template whose text is the same on every channel
is rendered once per post (see _same_for_channels).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from jinja2 import nodes

_LITERALS = "__literals__"


def _outline(source: str) -> tuple[tuple[Any, ...], tuple[str, ...]] | None:
    """The outline of a template made only of text and `{{ }}` expressions, and its literal text; else None.

    The outline is what Jinja2's parse tree of such a source depends on, once its literal text is lifted
    (see _lift_literals): each expression as written, the line it starts on, and where there is text
    between them. Two sources with one outline therefore have one tree, one shape and one compiled
    template, and differ only in their literals, which are found here as Jinja2's lexer finds them:
    with no `{%`, `{#` or carriage return in the source, a template is text up to each `{{`, then the
    expression up to the first `}}` after it, and one newline at the very end is dropped
    (keep_trailing_newline is off); empty text makes no node. An expression with braces, a backslash,
    an unclosed quote, or whitespace control (`{{-`, `{{+`, `-}}`) is not outlined: there Jinja2 may
    end it elsewhere or strip text around it. Anything not outlined takes the full path.
    """
    if "{%" in source or "{#" in source or "\r" in source:
        return None
    if source.endswith("\n"):
        source = source[:-1]
    key: list[Any] = []
    literals: list[str] = []
    line, pos = 1, 0
    while True:
        start = source.find("{{", pos)
        data = source[pos:] if start < 0 else source[pos:start]
        key.append(bool(data))
        if data:
            literals.append(data)
            line += data.count("\n")
        if start < 0:
            return tuple(key), tuple(literals)
        end = source.find("}}", start + 2)
        if end < 0:
            return None
        expression = source[start + 2 : end]
        if expression.startswith(("-", "+")) or expression.endswith("-") or not _PLAIN_EXPRESSION.fullmatch(expression):
            return None
        key.append((expression, line))
        line += expression.count("\n")
        pos = end + 2


# Expression text the lexer reads as tokens that all end before the first `}}`: no braces, no backslash,
# and every quote closed (a string may not hold a brace either).
_PLAIN_EXPRESSION = re.compile(r"""(?:[^{}'"\\]|'[^{}'\\]*'|"[^{}"\\]*")*""")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ARGUMENT = r"""(?:'[^{}'\\\n]*'|"[^{}"\\\n]*"|-?\d+)"""
# Pure filters whose text depends only on their input and literal arguments.
_PURE_FILTERS = (
    "date|time|capitalize|upper|lower|title|trim|default|d|replace|truncate|wordcount|length|count|string|int"
    "|float|round|abs|join|first|last|e|escape|striptags|urlencode|center|indent|wordwrap"
)
# An expression of values that are the same for every channel of a post, through pure filters only, with no
# call: such a template renders one text per post, so the other channels reuse it (Renderer._last).
_SAME_FOR_CHANNELS = re.compile(
    rf"\s*(post|campaign|date|vars)((?:\.{_NAME})*)"
    rf"(?:\s*\|\s*(?:{_PURE_FILTERS})\b(?:\(\s*(?:{_ARGUMENT}(?:\s*,\s*{_ARGUMENT})*)?\s*\))?)*\s*"
)
_METHODS = {t: frozenset(n for n in dir(t) if callable(getattr(t, n))) for t in (dict, datetime, str, list, int, float)}


def _same_for_channels(expression: str) -> bool:
    """Whether `expression` shows the same text for every channel of a post (see _SAME_FOR_CHANNELS).

    An attribute that may be a method of its value does not count: a bound method shows its address,
    and `vars` is a new dict at each rendering.
    """
    match = _SAME_FOR_CHANNELS.fullmatch(expression)
    if match is None:
        return False
    root, attributes = match[1], match[2].split(".")[1:]
    for index, attribute in enumerate(attributes):
        kinds = ((datetime,) if root == "date" else (dict,)) if index == 0 else tuple(_METHODS)
        if any(attribute in _METHODS[kind] for kind in kinds):
            return False
    return True


def _lift_literals(tree: nodes.Template) -> tuple[str, ...]:
    """Replace the template's literal text by lookups in a context list, and return the text.

    Posts differ in their words far more than in their template code, so templates of the same
    shape then share one compiled code object: compiling is most of the cost of rendering.
    """
    literals: list[str] = []
    for output in tree.find_all(nodes.Output):
        for index, node in enumerate(output.nodes):
            if isinstance(node, nodes.TemplateData):
                output.nodes[index] = nodes.Getitem(
                    nodes.Name(_LITERALS, "load", lineno=node.lineno),
                    nodes.Const(len(literals)),
                    "load",
                    lineno=node.lineno,
                )
                literals.append(node.data)
    return tuple(literals)
