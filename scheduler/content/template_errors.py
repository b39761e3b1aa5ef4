"""A template's failure in the writer's words: what went wrong, and on which line of the template."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from jinja2 import TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.utils import missing

from scheduler.content.outline import _LITERALS
from scheduler.content.problems import did_you_mean
from scheduler.content.sandbox import UnknownName, _Refused, _TooLong
from scheduler.words import N_, Said

_TEMPLATE_FILE = "<draft>"
_THE_VALUE = N_("the value")
_KINDS = {
    bool: N_("true/false"),
    str: N_("the text"),
    int: N_("the number"),
    float: N_("the number"),
    datetime: N_("the date"),
}


TEMPLATE = N_("template: {problem}")  # Jinja's or the sandbox's words, as a value


def _describe(exc: TemplateError) -> Said:
    message = str(exc.message or exc.__class__.__name__)
    if isinstance(exc, SecurityError):
        return Said.of(N_("template uses something the sandbox forbids: {problem}"), problem=message)
    return Said.of(TEMPLATE, problem=message)


def _failure(exc: Exception, context: Mapping[str, Any]) -> Said:
    """What went wrong while a template ran, whichever way the writer's code failed."""
    if isinstance(exc, _TooLong):
        return Said.of(
            N_("this template runs too long: {why}; look for loops inside loops, or a macro that calls itself"),
            why=exc.said,
        )
    if isinstance(exc, UnknownName):
        return _unknown(exc, context)
    if isinstance(exc, _Refused):
        return Said.of(TEMPLATE, problem=exc.said)
    if isinstance(exc, TemplateError):
        return _describe(exc)
    if isinstance(exc, RecursionError):  # a macro that calls itself
        return Said.of(N_("template: it calls itself without end (a macro that calls itself?)"))
    # a filter's own error, MemoryError...: passed on as Python words it, cut short
    return Said.of(TEMPLATE, problem=f"{exc.__class__.__name__}: {exc}"[: 300 - len("template: ")])


def _unknown(exc: UnknownName, context: Mapping[str, Any]) -> Said:
    """A writer's words for a name or key that is not there, with the names that are."""
    name = str(exc.name)
    if exc.forbidden:  # the sandbox hid it: a name such as __class__ or a function's internals
        return Said.of(
            N_("template uses something the sandbox forbids: {name} (a post can only use its own values)"),
            name=repr(name),
        )
    if exc.owner is missing:
        known = [key for key in context if key != _LITERALS]
        hint = did_you_mean(name, known) or Said.of(N_("; a post can use {names}"), names=", ".join(known))
        return Said.of(
            N_("template: unknown name {name}{hint} (see docs/writing-posts.md)"), name=repr(name), hint=hint
        )
    owner = _owner_name(exc.owner, context)
    if isinstance(exc.owner, Mapping):
        keys = [str(key) for key in exc.owner]
        shown = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
        hint = did_you_mean(name, keys) or (
            Said.of(N_("; it has {keys}"), keys=shown) if keys else Said.of(N_("; it is empty"))
        )
        return Said.of(N_("template: {owner} has no {name}{hint}"), owner=owner, name=repr(name), hint=hint)
    return Said.of(N_("template: {owner} has no {name}{hint}"), owner=owner, name=repr(name), hint="")


def _owner_name(owner: Any, context: Mapping[str, Any]) -> Said | str:
    """`vars`, `vars.address` or `post`: where in the context the value was found."""
    if isinstance(owner, Mapping | list | datetime):  # texts and numbers are shared objects: no telling whose
        for key, value in context.items():
            if value is owner:
                return key
            if isinstance(value, Mapping):
                for inner, item in value.items():
                    if item is owner:
                        return f"{key}.{inner}"
    return Said.of(next((kind for kind_type, kind in _KINDS.items() if isinstance(owner, kind_type)), _THE_VALUE))


def _template_line(tb: TracebackType | None) -> int:
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _nesting_line(tb: TracebackType | None) -> int:
    """The template line the parser or compiler had reached when it gave up."""
    line = 1
    while tb is not None:
        local = tb.tb_frame.f_locals
        node, parser = local.get("node"), local.get("self")
        if isinstance(parser, Parser):
            line = parser.stream.current.lineno
        elif isinstance(node, nodes.Node) and node.lineno:
            line = node.lineno
        elif isinstance(parser, nodes.Node) and parser.lineno:  # walking the tree (find_all)
            line = parser.lineno
        tb = tb.tb_next
    return line
