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
from scheduler.content.sandbox import UnknownName

_TEMPLATE_FILE = "<draft>"
_KINDS = {bool: "true/false", str: "the text", int: "the number", float: "the number", datetime: "the date"}


def _describe(exc: TemplateError) -> str:
    message = str(exc.message or exc.__class__.__name__)
    if isinstance(exc, SecurityError):
        return f"template uses something the sandbox forbids: {message}"
    return f"template: {message}"


def _unknown(exc: UnknownName, context: Mapping[str, Any]) -> str:
    """A writer's words for a name or key that is not there, with the names that are."""
    name = str(exc.name)
    if exc.forbidden:  # the sandbox hid it: a name such as __class__ or a function's internals
        return f"template uses something the sandbox forbids: {name!r} (a post can only use its own values)"
    if exc.owner is missing:
        known = [key for key in context if key != _LITERALS]
        hint = did_you_mean(name, known) or f"; a post can use {', '.join(known)}"
        return f"template: unknown name {name!r}{hint} (see docs/writing-posts.md)"
    owner = _owner_name(exc.owner, context)
    if isinstance(exc.owner, Mapping):
        keys = [str(key) for key in exc.owner]
        shown = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
        hint = did_you_mean(name, keys) or (f"; it has {shown}" if keys else "; it is empty")
        return f"template: {owner} has no {name!r}{hint}"
    return f"template: {owner} has no {name!r}"


def _owner_name(owner: Any, context: Mapping[str, Any]) -> str:
    """`vars`, `vars.address` or `post`: where in the context the value was found."""
    if isinstance(owner, Mapping | list | datetime):  # texts and numbers are shared objects: no telling whose
        for key, value in context.items():
            if value is owner:
                return key
            if isinstance(value, Mapping):
                for inner, item in value.items():
                    if item is owner:
                        return f"{key}.{inner}"
    return next((kind for kind_type, kind in _KINDS.items() if isinstance(owner, kind_type)), "the value")


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
