"""Draft × channel → exactly the text that channel gets, in one sandboxed Jinja2 environment.

The body is a Jinja2 template rendered with StrictUndefined in a SandboxedEnvironment. Its
context (documented in docs/writing-posts.md):

    post      id, title, path          campaign  name, timezone, language
    channel   name, type, limit        date      the local publish time (aware datetime)
    hashtags  the post's tags, "#a #b" vars      `vars:` from front matter and _defaults.yml

Filters: `date(pattern)` and `time(pattern)` format in the post's language with Babel
(`{{ date | date("EEEE d MMMM") }}` → "maandag 15 november").

Rendering has a budget (MAX_STEPS loop turns and calls, MAX_SECONDS, MAX_WRITTEN characters
written on the way, and no value bigger than MAX_OUTPUT): a template that would run for hours or
fill the memory is an error on its line, like any other broken post, and never holds up a plan.

Compiling is most of the cost of a template. Templates of one shape share their compiled code (their
literal text is lifted out, see _lift_literals), and a template of only text and `{{ }}` expressions is
not even parsed once another post had the same expressions on the same lines (see _outline): the full
path's result for the first is the result for all. A template whose text is the same on every channel
is rendered once per post (see _same_for_channels).

Hashtags go on a line of their own after the body unless the body places `{{ hashtags }}`;
a tag already in the body is not repeated; a channel's limit drops the excess with a warning.
The same code renders for validate, preview and the daemon.
"""

from __future__ import annotations

import functools
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import TracebackType
from typing import Any, NoReturn

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from scheduler.content import thread, utm
from scheduler.content.campaign import Campaign, ChannelConfig
from scheduler.content.drafts import Draft, MediaRef
from scheduler.content.hashtags import case_hint, tags_in
from scheduler.content.placeholders import placeholder_warnings
from scheduler.content.problems import Problem, did_you_mean, error, warning
from scheduler.posts import MediaItem, RenderedPost

MAX_OUTPUT = 100_000  # characters a template may produce (and be)
MAX_RANGE = 1_000  # items range() may produce in a template
# The budget of one rendering. A post is at most MAX_OUTPUT characters, so a template that needs more
# steps than this, or more than a second, is a mistake (loops inside loops), not a post; these bound
# every plan: a runaway template costs a plan well under a second per send, not hours.
MAX_STEPS = 100_000  # loop turns, calls and filters
MAX_SECONDS = 1.0  # wall clock, checked at every step
MAX_WRITTEN = 1_000_000  # characters written on the way: in macros, {% set %} blocks and the post itself
_TEMPLATE_FILE = "<draft>"
_LITERALS = "__literals__"
_COUNTED = "__counted__"  # the loops' iterables go through this global (see _Budgeted)
_JOINED = "__joined__"  # and `a ~ b` through this one
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*[\d.]*|\{[^{}]*:[^{}]*\}")  # printf and str.format widths
_OTHER_TEMPLATES = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)
_KINDS = {bool: "true/false", str: "the text", int: "the number", float: "the number", datetime: "the date"}


@dataclass(frozen=True)
class Rendered:
    """The outcome for one draft on one channel: the post if it could be rendered, and problems."""

    post: RenderedPost | None
    length: int | None
    limit: int | None
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class _Compiled:
    template: Template | None  # None: literal text, no Jinja syntax in it
    source: str  # the literal text (what the writer typed outside {{ }} and {% %})
    places_hashtags: bool
    literals: tuple[str, ...]
    tags: frozenset[str]  # casefolded hashtags in the literal text
    same_for_channels: bool = False  # renders the same text for every channel of a post (see _SAME_FOR_CHANNELS)


@dataclass(frozen=True)
class _Outlined:
    """What the full path made of the first source with an outline (see _outline): the same for all of them."""

    template: Template
    places_hashtags: bool
    same: bool


class _TemplateFailed(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


class _Refused(Exception):
    """A step in a writer's template this project does not run; the message is for the writer."""


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
            raise _TooLong(f"more than {MAX_STEPS:,} steps (loop turns and calls) or {MAX_SECONDS:g} second")

    def write(self, size: int) -> None:
        self.written -= size
        if self.written < 0:
            raise _TooLong(f"it writes more than {MAX_WRITTEN:,} characters on the way (loops, macros, set blocks)")


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
        raise _Refused(f"{what} would make {size:,} characters or items; a post may have at most {MAX_OUTPUT:,}")


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
        raise _Refused(f"{operator} would make a number of about {int(digits):,} digits; a post can show {limit:,}")


def _format_width(text: str) -> int:
    """The widest field a printf-style or str.format() string asks for."""
    numbers = (int(n[:10]) for spec in _FORMAT_SPEC.findall(text) for n in re.findall(r"\d+", spec))
    return max(numbers, default=0)


class Renderer:
    """Renders drafts for channels; one per plan, reusing compiled templates and media checks."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.env = _Sandbox(
            undefined=_Undefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            optimized=False,
            finalize=_written,
        )
        self.env.globals["range"] = _bounded_range
        self.env.globals[_COUNTED] = _counted
        self.env.globals[_JOINED] = _joined
        del self.env.globals["lipsum"]  # random placeholder text: of no use in a post, and slow
        self.env.filters["date"] = self._format("EEEE d MMMM")
        self.env.filters["time"] = self._format("HH:mm")
        for name, function in list(self.env.filters.items()):
            self.env.filters[name] = _sized_filter(name, function)
        self._compiled: dict[str, _Compiled | _TemplateFailed] = {}
        self._shapes: dict[str, Template] = {}
        self._outlines: dict[tuple[Any, ...], _Outlined] = {}  # see _outline: templates the full path made
        self._last: tuple[_Compiled, Draft, datetime | None, str] | None = None  # see _same_text
        self._expanded: dict[tuple[str, ...], list[str]] = {}
        self._media: dict[str, tuple[Path | None, int, str | None]] = {}

    def renew(self, campaign: Campaign) -> None:
        """Render for `campaign` from now on, checking media files again; its settings and hashtags
        must be those this renderer was made with (compiled templates and tag lists stay valid)."""
        self.campaign = campaign
        self._media.clear()
        self._last = None

    def _expand(self, refs: tuple[str, ...]) -> list[str]:
        expanded = self._expanded.get(refs)
        if expanded is None:
            expanded = self._expanded[refs] = self.campaign.hashtags.expand(refs)
        return expanded

    def _format(self, default: str) -> Any:
        def format_value(value: Any, pattern: str = default, locale: str | None = None) -> str:
            if not isinstance(value, datetime):
                return "(not scheduled)" if value is None else str(value)
            if locale is not None:
                try:
                    Locale.parse(locale)
                except (UnknownLocaleError, ValueError, TypeError):
                    raise _Refused(f"unknown language {locale!r} (use a code such as nl or en)") from None
            return str(format_datetime(value, pattern, locale=locale or self.campaign.settings.language))

        return format_value

    def render(self, draft: Draft, channel: ChannelConfig, due: datetime | None) -> Rendered:
        """The post `channel` gets for `draft` at `due` (UTC), or the problems that prevent it."""
        problems: list[Problem] = []
        override = draft.overrides.get(channel.name) or draft.overrides.get(channel.type)
        path, source, first_line, last_line = draft.path, draft.body, draft.body_line, None
        if override is not None and override.body is not None:
            path, source, (first_line, last_line) = override.file, override.body, override.body_lines

        lead = len(source) - len(source.lstrip("\n"))  # the body may start on the --- line

        def line_of(template_line: int) -> int:  # a line of the template → the line in `path`
            line = first_line + max(template_line - 1, lead)
            return line if last_line is None else min(line, last_line)  # escapes like "\n" add lines

        refs = override.hashtags if override is not None and override.hashtags is not None else draft.hashtags
        where = draft.line_of("hashtags")
        broken = self.campaign.hashtags.broken
        if broken is not None and refs != ():  # `hashtags: []` is the only post hashtags.yml does not touch
            line = where[1] if where[0] == draft.path else 1
            message = f"its hashtags cannot be worked out: {broken.path}:{broken.line} has an error; fix that first"
            problems.append(error(draft.path, line, message))
            return Rendered(None, None, None, tuple(problems))
        tags = self._expand(self.campaign.hashtags.refs_for(refs))

        compiled = self._compile(source)
        if isinstance(compiled, _TemplateFailed):
            problems.append(error(path, line_of(compiled.line), compiled.message))
            return Rendered(None, None, None, tuple(problems))
        # Tags the writer put in the body count against the limit and are not repeated.
        in_body = compiled.tags
        tags = [t for t in tags if t.casefold() not in in_body]
        limit = self.campaign.hashtags.limit_for(channel.name, channel.type)
        room = len(tags) if limit is None else max(0, limit - len(in_body))
        tags, dropped = tags[:room], tags[room:]
        if dropped:
            problems.append(
                warning(
                    where[0], where[1], f"{channel.name} allows {limit} hashtags per post; dropped {', '.join(dropped)}"
                )
            )
        set_tags = {tag for tags_ in self.campaign.hashtags.sets.values() for tag in tags_}
        for tag in tags:  # tags from hashtags.yml sets are hinted once, there
            if tag not in set_tags and self.campaign.hashtags.needs_case_hint(tag):
                problems.append(warning(where[0], where[1], case_hint(tag)))

        language = draft.language or self.campaign.settings.language
        limits = channel.limits
        last = self._last
        if compiled.template is None:
            text = compiled.source.strip()
        elif last is not None and last[0] is compiled and last[1] is draft and last[2] is due:
            text = last[3]  # the same post's text, rendered for another channel: see _same_for_channels
        else:
            local = due.astimezone(self.campaign.settings.timezone) if due else None
            context = {
                "post": {"id": draft.id, "title": draft.title, "path": draft.path},
                "campaign": {
                    "name": self.campaign.settings.name,
                    "timezone": str(self.campaign.settings.timezone),
                    "language": language,
                },
                "channel": {"name": channel.name, "type": channel.type, "limit": limits.length.limit},
                "date": local,
                "vars": dict(draft.vars),
                "hashtags": " ".join(tags),
            }
            try:
                text = self._run(compiled, context).strip()
            except _TemplateFailed as exc:
                problems.append(error(path, line_of(exc.line), exc.message))
                return Rendered(None, None, None, tuple(problems))
            if compiled.same_for_channels:
                self._last = (compiled, draft, due, text)
        if not text.isascii() and _SURROGATE.search(text):  # e.g. '\ud800' in a template: not encodable
            problems.append(error(path, line_of(1), "the text contains a lone surrogate (\\ud800-\\udfff)"))
            return Rendered(None, None, None, tuple(problems))
        problems.extend(placeholder_warnings(draft, source, (path, line_of(1)), text))
        # Tagged here, before the length is measured and a thread split: every count sees what goes out.
        text = utm.tag(text, self.campaign.utm, channel.limits.network or channel.type, draft.id)
        body, tag_line = text, ""
        if not compiled.places_hashtags and tags:
            present = _casefolded_tags(text)
            tags = [t for t in tags if t.casefold() not in present]
            if tags:
                tag_line = f"\n\n{' '.join(tags)}"
                text = body + tag_line

        media = self._media_items(draft, channel, problems)
        rule = limits.length_for(bool(draft.media))
        length = rule.measure(text)
        parts: tuple[str, ...] = ()
        over = rule.problems(text, length)
        if over and draft.thread and limits.replies:
            # The hashtag line goes once, on the first part, where people following a tag see the start.
            split_up = thread.split(body, rule, first_suffix=tag_line)
            if split_up is None:
                over = [f"a word is too long for one part of a thread ({rule.limit} {rule.unit} at most)"]
            else:
                parts, over, text = split_up, [], split_up[0]
                length = max(rule.measure(part) for part in parts)
        if over:
            over[-1] += _whole_post_held(channel, draft.thread and limits.replies, limits.replies)
        for message in over:
            problems.append(error(path, line_of(1), f"{channel.name}: {message}"))
        post = RenderedPost(
            post=draft.id,
            channel=channel.name,
            text=text,
            media=media,
            language=language,
            card=draft.card,
            title=draft.title,
            parts=parts,
            link_check=draft.link_check,
        )
        return Rendered(post, length, rule.limit, tuple(problems))

    def _compile(self, source: str) -> _Compiled | _TemplateFailed:
        cached = self._compiled.get(source)
        if cached is not None:
            return cached
        result: _Compiled | _TemplateFailed
        if "{" not in source:  # no Jinja syntax: the text is literal
            result = _Compiled(None, source, False, (), _casefolded_tags(source))
        elif len(source) > MAX_OUTPUT:
            result = _TemplateFailed(f"the template is {len(source):,} characters; at most {MAX_OUTPUT:,}", 1)
        elif (found := self._from_outline(source)) is not None:
            result = found
        else:
            result = self._compile_full(source)
        self._compiled[source] = result
        return result

    def _from_outline(self, source: str) -> _Compiled | _TemplateFailed | None:
        """The template of a source whose outline (see _outline) the full path has compiled before, or None."""
        outlined = _outline(source)
        if outlined is None:
            return None
        key, literals = outlined
        known = self._outlines.get(key)
        if known is None:
            full = self._compile_full(source)
            # Kept only when the full path agrees with the outline on this source (it does, by _outline's
            # rules; this is the belt to those braces): then every source of this outline gets the same.
            if isinstance(full, _TemplateFailed) or full.template is None or full.literals != literals:
                return full
            same = all(_same_for_channels(expression) for expression, _ in key[1::2])
            known = self._outlines[key] = _Outlined(full.template, full.places_hashtags, same)
            return replace(full, same_for_channels=same)
        text = "".join(literals)
        return _Compiled(known.template, text, known.places_hashtags, literals, _casefolded_tags(text), known.same)

    def _compile_full(self, source: str) -> _Compiled | _TemplateFailed:
        """Parse, check and compile `source` with Jinja2 (templates of one shape share their code)."""
        result: _Compiled | _TemplateFailed
        try:
            tree = self.env.parse(source)
            _check_names(tree, self.env)
            _Budgeted().visit(tree)
            literals = _lift_literals(tree)
            shape = repr(tree) + repr([node.lineno for node in tree.find_all(nodes.Node)])
            template = self._shapes.get(shape)
            if template is None:
                code = self.env.compile(tree, filename=_TEMPLATE_FILE)
                template = self._shapes[shape] = self.env.template_class.from_code(
                    self.env, code, self.env.make_globals(None)
                )
            # A name lookup, not meta.find_undeclared_variables: that runs the code generator.
            places = any(n.name == "hashtags" and n.ctx == "load" for n in tree.find_all(nodes.Name))
            text = "".join(literals)
            result = _Compiled(template, text, places, literals, _casefolded_tags(text))
        except _TemplateFailed as exc:
            result = exc
        except TemplateSyntaxError as exc:
            result = _TemplateFailed(f"template syntax error: {exc.message}", exc.lineno or 1)
        except (RecursionError, SyntaxError) as exc:  # SyntaxError: "too many statically nested blocks"
            result = _TemplateFailed("the template is nested too deeply", _nesting_line(exc.__traceback__))
        except Exception as exc:  # as in drafts: one post's template never stops the plan
            result = _TemplateFailed(
                f"template could not be compiled ({exc.__class__.__name__}); please report this", 1
            )
        return result

    def _run(self, compiled: _Compiled, context: Mapping[str, Any]) -> str:
        if compiled.template is None:
            return compiled.source
        chunks: list[str] = []
        size = 0
        budget = _budget.set(_Budget())
        try:
            for chunk in compiled.template.generate({**context, _LITERALS: compiled.literals}):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise _TemplateFailed(f"the template produces more than {MAX_OUTPUT:,} characters", 1)
                chunks.append(chunk)
        except _TemplateFailed:
            raise
        except _TooLong as exc:
            raise _TemplateFailed(
                f"this template runs too long: {exc}; look for loops inside loops, or a macro that calls itself",
                _template_line(exc.__traceback__),
            ) from None
        except UnknownName as exc:
            raise _TemplateFailed(_unknown(exc, context), _template_line(exc.__traceback__)) from None
        except _Refused as exc:
            raise _TemplateFailed(f"template: {exc}", _template_line(exc.__traceback__)) from None
        except TemplateError as exc:
            raise _TemplateFailed(_describe(exc), _template_line(exc.__traceback__)) from None
        except RecursionError as exc:  # a macro that calls itself
            raise _TemplateFailed(
                "template: it calls itself without end (a macro that calls itself?)", _template_line(exc.__traceback__)
            ) from None
        except Exception as exc:  # the writer's code failed, whichever way (a filter's own error, MemoryError...)
            raise _TemplateFailed(
                f"template: {exc.__class__.__name__}: {exc}"[:300], _template_line(exc.__traceback__)
            ) from None
        finally:
            _budget.reset(budget)
        return "".join(chunks)

    def _media_items(self, draft: Draft, channel: ChannelConfig, problems: list[Problem]) -> tuple[MediaItem, ...]:
        rules = channel.limits.media
        items = []
        for ref in draft.media:
            path, size, problem = self._check_media(ref)
            if problem:
                problems.append(error(ref.file, ref.line, problem))
                continue
            assert path is not None
            if path.suffix.lower() not in rules.kinds:
                problems.append(
                    error(
                        ref.file,
                        ref.line,
                        f"{channel.name} does not take {path.suffix or 'files without extension'} files ({ref.path})",
                    )
                )
            if rules.max_bytes is not None and size > rules.max_bytes:
                problems.append(
                    error(
                        ref.file,
                        ref.line,
                        f"{ref.path} is {size:,} bytes; {channel.name} takes at most {rules.max_bytes:,}",
                    )
                )
            items.append(MediaItem(path, ref.alt))
        if rules.max_items is not None and len(draft.media) > rules.max_items:
            line = draft.line_of("media")
            problems.append(
                error(
                    line[0],
                    line[1],
                    f"{channel.name} takes at most {rules.max_items} media items; this post has {len(draft.media)}",
                )
            )
        return tuple(items)

    def _check_media(self, ref: MediaRef) -> tuple[Path | None, int, str | None]:
        cached = self._media.get(ref.path)
        if cached is None:
            cached = self._media[ref.path] = _resolve_media(self.campaign.root, ref.path)
        return cached


def _resolve_media(root: Path, written: str) -> tuple[Path | None, int, str | None]:
    relative = PurePosixPath(written)
    if (
        not written.strip()
        or relative.is_absolute()
        or PureWindowsPath(written).drive
        or written.startswith(("\\", "~"))
    ):
        return None, 0, f"media path {written!r} must be relative to the campaign root"
    if ".." in relative.parts:
        return None, 0, f"media path {written!r} must not contain .."
    full = root.joinpath(*relative.parts)
    try:
        resolved = full.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL in the path
        return None, 0, f"media file {written} does not exist"
    if not resolved.is_relative_to(root.resolve()):
        return None, 0, f"media path {written!r} leads outside the campaign root"
    if not resolved.is_file():
        return None, 0, f"media path {written!r} is not a file"
    return resolved, resolved.stat().st_size, None


def _casefolded_tags(text: str) -> frozenset[str]:
    return frozenset(t.casefold() for t in tags_in(text)) if "#" in text else frozenset()


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


class _Budgeted(NodeTransformer):
    """Every loop's iterable goes through _counted and every `~` through _joined, so both are budgeted."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(_COUNTED, "load"), [node.iter], [], None, None, lineno=node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name(_JOINED, "load"), node.nodes, [], None, None, lineno=node.lineno)


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


def _describe(exc: TemplateError) -> str:
    message = str(exc.message or exc.__class__.__name__)
    if isinstance(exc, SecurityError):
        return f"template uses something the sandbox forbids: {message}"
    return f"template: {message}"


def _check_names(tree: nodes.Template, env: SandboxedEnvironment) -> None:
    """Other templates, unknown filters and tests: found in the parsed tree, named in our words."""
    for other in tree.find_all(_OTHER_TEMPLATES):
        raise _TemplateFailed("a post cannot include, extend or import other templates", other.lineno)
    for kind, node_type, known in (("filter", nodes.Filter, env.filters), ("test", nodes.Test, env.tests)):
        for used in tree.find_all(node_type):
            if used.name not in known:
                raise _TemplateFailed(f"unknown {kind} {used.name!r}{did_you_mean(used.name, known)}", used.lineno)


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


def _bounded_range(*args: int) -> Iterator[int]:
    values = range(*args)
    try:
        too_many = len(values) > MAX_RANGE
    except OverflowError:  # more numbers than len() can count
        too_many = True
    if too_many:
        raise _Refused(f"range() may give at most {MAX_RANGE} numbers in a post")
    return iter(values)


def _whole_post_held(channel: ChannelConfig, threaded: bool, replies: bool) -> str:
    """What a too-long text means for the post (none of its channels gets it) and how to fix it."""
    name = channel.name
    if threaded:  # a thread already, and still a part does not fit
        fix = f"shorten that word, or write an `overrides:` text for {name}"
    elif replies:
        fix = f"shorten it, set `thread: true`, or write an `overrides:` text for {name}"
    else:
        fix = f"shorten it, or write an `overrides:` text for {name}"
    return f"; the whole post is held, on all its channels, until it fits: {fix}"
