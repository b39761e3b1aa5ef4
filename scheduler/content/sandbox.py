"""The sandbox a writer's template runs in, and its budget.

Rendering has a budget (MAX_STEPS loop turns and calls, MAX_SECONDS, MAX_WRITTEN characters
written on the way, and no value bigger than MAX_OUTPUT): a template that would run for hours or
fill the memory is an error on its line, like any other broken post, and never holds up a plan.
The renderer (scheduler.content.render) makes the environment and turns these errors into problems.
"""

from __future__ import annotations

import functools
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from scheduler.words import N_, Said

MAX_OUTPUT = 100_000  # characters a template may produce (and be)
MAX_RANGE = 1_000  # items range() may produce in a template
# The budget of one rendering. A post is at most MAX_OUTPUT characters, so a template that needs more
# steps than this, or more than a second, is a mistake (loops inside loops), not a post; these bound
# every plan: a runaway template costs a plan well under a second per send, not hours.
MAX_STEPS = 100_000  # loop turns, calls and filters
MAX_SECONDS = 1.0  # wall clock, checked at every step
MAX_WRITTEN = 1_000_000  # characters written on the way: in macros, {% set %} blocks and the post itself
_COUNTED = "__counted__"  # the loops' iterables go through this global (see _Budgeted)
_JOINED = "__joined__"  # and `a ~ b` through this one
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*[\d.]*|\{[^{}]*:[^{}]*\}")  # printf and str.format widths


class _Refused(Exception):
    """A step in a writer's template this project does not run; the message is for the writer, `said`
    keeps it for translation."""

    def __init__(self, said: Said) -> None:
        super().__init__(str(said))
        self.said = said


class UnknownName(Exception):
    """A template used a name, or a key of a value, that is not there.

    Raised by the environment's Undefined itself, so the name and the value it was looked up on
    come from Jinja's objects, not from the wording of its message.
    """

    def __init__(self, name: str | None, owner: Any, *, forbidden: bool = False) -> None:
        super().__init__(name)
        self.name, self.owner, self.forbidden = name, owner, forbidden


class _Undefined(StrictUndefined):
    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        forbidden = isinstance(self._undefined_exception, type) and issubclass(self._undefined_exception, SecurityError)
        raise UnknownName(self._undefined_name, self._undefined_obj, forbidden=forbidden)


# StrictUndefined binds its operators to the base class's function; point them all at ours.
for _name, _value in [*vars(Undefined).items(), *vars(StrictUndefined).items()]:
    if _value is Undefined._fail_with_undefined_error:
        setattr(_Undefined, _name, _Undefined._fail_with_undefined_error)


class _TooLong(_Refused):
    """The template used up its budget (see MAX_STEPS): it runs too long."""


class _Budget:
    """What one rendering may still spend: steps, time and characters written."""

    __slots__ = ("deadline", "steps", "written")

    def __init__(self) -> None:
        self.steps, self.deadline, self.written = MAX_STEPS, time.monotonic() + MAX_SECONDS, MAX_WRITTEN

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0 or time.monotonic() > self.deadline:
            # One message for both: which comes first depends on the machine's load.
            raise _TooLong(
                Said.of(
                    N_("more than {steps} steps (loop turns and calls) or {seconds} second"),
                    steps=f"{MAX_STEPS:,}",
                    seconds=f"{MAX_SECONDS:g}",
                )
            )

    def write(self, size: int) -> None:
        self.written -= size
        if self.written < 0:
            raise _TooLong(
                Said.of(
                    N_("it writes more than {size} characters on the way (loops, macros, set blocks)"),
                    size=f"{MAX_WRITTEN:,}",
                )
            )


_budget: ContextVar[_Budget | None] = ContextVar("render_budget", default=None)


def _step() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.step()


def _counted(iterable: Any) -> Iterator[Any]:
    """A loop's items, each one a step of the budget."""
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.step()
        yield item


def _joined(*parts: Any) -> str:
    """`a ~ b ~ c`, refused before it is made when it would be too long."""
    texts = [str(part) for part in parts]
    _check_size(sum(map(len, texts)), "~")
    return "".join(texts)


def _written(value: Any) -> Any:
    """Every `{{ }}` on its way to the output (the environment's finalize): counted against MAX_WRITTEN."""
    budget = _budget.get()
    if budget is None:  # a constant, finalized when compiling
        return value
    text = str(value)
    budget.write(len(text))
    return text


def _check_result(value: Any, what: str) -> Any:
    """No value a step makes may be bigger than a post: anything bigger is of no use and may be huge."""
    if isinstance(value, str | list | tuple | dict | set | frozenset):
        _check_size(len(value), what)
    return value


class _Sandbox(SandboxedEnvironment):
    """The sandbox, also refusing to turn a small template into a huge string, number or loop.

    A writer's expressions only run when rendering (no constant folding at compile time), where
    the output is counted; these checks stop single steps that would take long or use gigabytes,
    and the budget (_Budget) stops many small steps that would together take hours.
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                    _check_size(len(sequence) * times, "*")
        if operator in ("*", "**") and isinstance(left, int) and isinstance(right, int):
            _check_digits(left, right, operator)
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            _check_size(right * (abs(left).bit_length() - 1) // 3, "**")  # about the digits of the result
        elif operator == "%" and isinstance(left, str):
            _check_size(_format_width(left), "%")
        return _check_result(super().call_binop(context, operator, left, right), operator)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _step()
        method = getattr(obj, "__wrapped__", obj)  # str.format comes wrapped by the sandbox
        owner = getattr(method, "__self__", None)
        name = getattr(method, "__name__", "")
        if isinstance(owner, str):
            if name in ("format", "format_map"):
                _check_size(_format_width(owner), name)
            elif name in ("center", "ljust", "rjust", "zfill", "expandtabs"):
                tabs = owner.count("\t") + 1 if name == "expandtabs" else 1
                for size in (*args, *kwargs.values()):
                    _check_size(tabs * _size(size), name)
            elif name == "join" and args:
                args = (_sized_items(args[0], len(owner), name), *args[1:])
            elif name == "replace" and len(args) >= 2:
                _check_size(_replaced_size(owner, *args[:2]), name)
        elif isinstance(obj, LoopContext) and args:  # loop(children) in a recursive loop: its turns count too
            args = (_counted(args[0]), *args[1:])
        result = _check_result(super().call(context, obj, *args, **kwargs), name or "a call")
        if isinstance(owner, list | dict | set):  # append, extend, update: the value grew in place
            _check_result(owner, name)
        return result


# Filters whose arguments set the size of the result: filter → that size, from the same arguments.
_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "center": lambda value, width=80, *_, **__: _size(width),
    "indent": lambda s, width=4, *_, **__: (str(s).count("\n") + 1) * _size(width),
    "batch": lambda value, linecount, *_, **__: _size(linecount),
    "slice": lambda eval_ctx, value, slices, *_, **__: _size(slices),
    "format": lambda value, *_, **__: _format_width(str(value)),
}


def _sized_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """The filter, as one step of the budget, refused when its arguments ask for a result that is too big."""
    size = _FILTER_SIZES.get(name)

    @functools.wraps(function)  # keeps jinja_pass_arg
    def sized(*args: Any, **kwargs: Any) -> Any:
        _step()
        if size is not None:
            _check_size(size(*args, **kwargs), name)
        if name == "join":  # join(eval_ctx, value, d="", attribute=None)
            args = (args[0], _sized_items(args[1], len(str(args[2] if len(args) > 2 else kwargs.get("d", ""))), name))
        elif name == "replace" and len(args) >= 4:  # replace(eval_ctx, s, old, new, count=None)
            _check_size(_replaced_size(str(args[1]), args[2], args[3]), name)
        elif name == "sum" and len(args) >= 2:  # sum(environment, iterable, attribute=None, start=0): of lists too
            args = (args[0], _sized_items(args[1], 0, name), *args[2:])
        return _check_result(function(*args, **kwargs), name)

    return sized


def _sized_items(items: Any, between: int, what: str) -> Any:
    """`items` as a list, refused when joining them (with `between` in between) would be too big."""
    if not isinstance(items, Iterable) or isinstance(items, str):
        return items
    items = list(items)
    _check_size(len(items), what)
    total = between * max(len(items) - 1, 0)
    for item in items:
        total += len(item) if isinstance(item, str | list | tuple) else 0
        _check_size(total, what)
    return items


def _replaced_size(text: str, old: Any, new: Any) -> int:
    if not (isinstance(old, str) and isinstance(new, str)):
        return 0
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * (len(new) - len(old))


def _size(value: Any) -> int:
    """What a width or count argument asks for: the number, or the length of a text (indent)."""
    return len(value) if isinstance(value, str) else value if isinstance(value, int) else 0


def _check_size(size: Any, what: str) -> None:
    if isinstance(size, int) and size > MAX_OUTPUT:
        raise _Refused(
            Said.of(
                N_("{what} would make {size} characters or items; a post may have at most {most}"),
                what=what,
                size=f"{size:,}",
                most=f"{MAX_OUTPUT:,}",
            )
        )


def _check_digits(left: int, right: int, operator: str) -> None:
    """Refuse a number too long for Python to write out (sys.get_int_max_str_digits)."""
    limit = sys.get_int_max_str_digits()
    if not limit or isinstance(left, bool) or isinstance(right, bool):
        return
    if operator == "**":
        digits = right * math.log10(abs(left)) if right > 0 and abs(left) > 1 else 0
    else:
        digits = (left.bit_length() + right.bit_length()) * math.log10(2)
    if digits > limit:
        raise _Refused(
            Said.of(
                N_("{operator} would make a number of about {digits} digits; a post can show {limit}"),
                operator=operator,
                digits=f"{int(digits):,}",
                limit=f"{limit:,}",
            )
        )


def _format_width(text: str) -> int:
    """The widest field a printf-style or str.format() string asks for."""
    numbers = (int(n[:10]) for spec in _FORMAT_SPEC.findall(text) for n in re.findall(r"\d+", spec))
    return max(numbers, default=0)


class _Budgeted(NodeTransformer):
    """Every loop's iterable goes through _counted and every `~` through _joined, so both are budgeted."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(_COUNTED, "load"), [node.iter], [], None, None, lineno=node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name(_JOINED, "load"), node.nodes, [], None, None, lineno=node.lineno)


def _bounded_range(*args: int) -> Iterator[int]:
    values = range(*args)
    try:
        too_many = len(values) > MAX_RANGE
    except OverflowError:  # more numbers than len() can count
        too_many = True
    if too_many:
        raise _Refused(Said.of(N_("range() may give at most {most} numbers in a post"), most=MAX_RANGE))
    return iter(values)
