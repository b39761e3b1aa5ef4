"""Draft × channel → exactly the text that channel gets, in one sandboxed Jinja2 environment.

The body is a Jinja2 template rendered with StrictUndefined in a SandboxedEnvironment. Its
context (documented in docs/writing-posts.md):

    post      id, title, path          campaign  name, timezone, language
    channel   name, type, limit        date      the local publish time (aware datetime)
    hashtags  the post's tags, "#a #b" vars      `vars:` from front matter and _defaults.yml

Filters: `date(pattern)` and `time(pattern)` format in the post's language with Babel
(`{{ date | date("EEEE d MMMM") }}` → "maandag 15 november").

Hashtags go on a line of their own after the body unless the body places `{{ hashtags }}`;
a tag already in the body is not repeated; a channel's limit drops the excess with a warning.
The same code renders for validate, preview and the daemon.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import TracebackType
from typing import Any

from babel.dates import format_datetime
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.environment import Template
from jinja2.sandbox import SandboxedEnvironment

from scheduler.campaign import Campaign, ChannelConfig
from scheduler.channels.base import MediaItem, RenderedPost
from scheduler.drafts import Draft, MediaRef
from scheduler.hashtags import case_hint, tags_in
from scheduler.problems import Problem, error, warning

MAX_OUTPUT = 100_000  # characters a template may produce
MAX_RANGE = 1_000  # items range() may produce in a template
_TEMPLATE_FILE = "<draft>"
_LITERALS = "__literals__"


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


class _TemplateFailed(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


class Renderer:
    """Renders drafts for channels; one per plan, reusing compiled templates and media checks."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.env = SandboxedEnvironment(
            undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
        )
        self.env.globals["range"] = _bounded_range
        self.env.filters["date"] = self._format("EEEE d MMMM")
        self.env.filters["time"] = self._format("HH:mm")
        self._compiled: dict[str, _Compiled | _TemplateFailed] = {}
        self._shapes: dict[str, Template] = {}
        self._expanded: dict[tuple[str, ...], list[str]] = {}
        self._media: dict[str, tuple[Path | None, int, str | None]] = {}

    def _expand(self, refs: tuple[str, ...]) -> list[str]:
        expanded = self._expanded.get(refs)
        if expanded is None:
            expanded = self._expanded[refs] = self.campaign.hashtags.expand(refs)
        return expanded

    def _format(self, default: str) -> Any:
        def format_value(value: Any, pattern: str = default, locale: str | None = None) -> str:
            if not isinstance(value, datetime):
                return "(not scheduled)" if value is None else str(value)
            return str(format_datetime(value, pattern, locale=locale or self.campaign.settings.language))

        return format_value

    def render(self, draft: Draft, channel: ChannelConfig, due: datetime | None) -> Rendered:
        """The post `channel` gets for `draft` at `due` (UTC), or the problems that prevent it."""
        problems: list[Problem] = []
        override = draft.overrides.get(channel.name) or draft.overrides.get(channel.type)
        source, first_line = draft.body, draft.body_line
        if override is not None and override.body is not None:
            source, first_line = "\n" + override.body, override.line
        refs = override.hashtags if override is not None and override.hashtags is not None else draft.hashtags
        tags = self._expand(self.campaign.hashtags.default if refs is None else refs)

        compiled = self._compile(source)
        if isinstance(compiled, _TemplateFailed):
            problems.append(error(draft.path, first_line + compiled.line - 1, compiled.message))
            return Rendered(None, None, None, tuple(problems))
        # Tags the writer put in the body count against the limit and are not repeated.
        in_body = compiled.tags
        tags = [t for t in tags if t.casefold() not in in_body]
        limit = self.campaign.hashtags.limit_for(channel.name, channel.type)
        room = len(tags) if limit is None else max(0, limit - len(in_body))
        tags, dropped = tags[:room], tags[room:]
        where = draft.line_of("hashtags")
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
            problems.append(error(draft.path, first_line + exc.line - 1, exc.message))
            return Rendered(None, None, None, tuple(problems))
        if not compiled.places_hashtags and tags:
            present = _casefolded_tags(text)
            tags = [t for t in tags if t.casefold() not in present]
            if tags:
                text = f"{text}\n\n{' '.join(tags)}"

        media = self._media_items(draft, channel, problems)
        rule = limits.length_for(bool(draft.media))
        length = rule.measure(text)
        text_line = first_line + len(source) - len(source.lstrip("\n"))
        for message in rule.problems(text, length):
            problems.append(error(draft.path, text_line, f"{channel.name}: {message}"))
        post = RenderedPost(
            post=draft.id,
            channel=channel.name,
            text=text,
            media=media,
            language=language,
            card=draft.card,
            title=draft.title,
        )
        return Rendered(post, length, rule.limit, tuple(problems))

    def _compile(self, source: str) -> _Compiled | _TemplateFailed:
        cached = self._compiled.get(source)
        if cached is not None:
            return cached
        result: _Compiled | _TemplateFailed
        if "{" not in source:  # no Jinja syntax: the text is literal
            result = _Compiled(None, source, False, (), _casefolded_tags(source))
        else:
            try:
                tree = self.env.parse(source)
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
            except TemplateSyntaxError as exc:
                result = _TemplateFailed(f"template syntax: {exc.message}", exc.lineno or 1)
        self._compiled[source] = result
        return result

    def _run(self, compiled: _Compiled, context: Mapping[str, Any]) -> str:
        if compiled.template is None:
            return compiled.source
        chunks: list[str] = []
        size = 0
        try:
            for chunk in compiled.template.generate({**context, _LITERALS: compiled.literals}):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise _TemplateFailed(f"the template produces more than {MAX_OUTPUT:,} characters", 1)
                chunks.append(chunk)
        except _TemplateFailed:
            raise
        except TemplateError as exc:
            raise _TemplateFailed(_describe(exc), _template_line(exc.__traceback__)) from None
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RecursionError) as exc:
            raise _TemplateFailed(
                f"template: {exc.__class__.__name__}: {exc}"[:300], _template_line(exc.__traceback__)
            ) from None
        return "".join(chunks)

    def _media_items(self, draft: Draft, channel: ChannelConfig, problems: list[Problem]) -> tuple[MediaItem, ...]:
        rules = channel.limits.media
        items = []
        for ref in draft.media:
            path, size, problem = self._check_media(ref)
            if problem:
                problems.append(error(draft.path, ref.line, problem))
                continue
            assert path is not None
            if path.suffix.lower() not in rules.kinds:
                problems.append(
                    error(
                        draft.path,
                        ref.line,
                        f"{channel.name} does not take {path.suffix or 'files without extension'} files ({ref.path})",
                    )
                )
            if rules.max_bytes is not None and size > rules.max_bytes:
                problems.append(
                    error(
                        draft.path,
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
    except (OSError, RuntimeError):
        return None, 0, f"media file {written} does not exist"
    if not resolved.is_relative_to(root.resolve()):
        return None, 0, f"media path {written!r} leads outside the campaign root"
    if not resolved.is_file():
        return None, 0, f"media path {written!r} is not a file"
    return resolved, resolved.stat().st_size, None


def _casefolded_tags(text: str) -> frozenset[str]:
    return frozenset(t.casefold() for t in tags_in(text)) if "#" in text else frozenset()


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
    if "unsafe" in message:
        return f"template uses something the sandbox forbids: {message}"
    if "is undefined" in message:
        return f"template: {message} (see docs/writing-posts.md for the names a post can use)"
    return f"template: {message}"


def _template_line(tb: TracebackType | None) -> int:
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _bounded_range(*args: int) -> Iterator[int]:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise OverflowError(f"range() may give at most {MAX_RANGE} numbers in a post")
    return iter(values)
