"""Draft × channel → exactly the text that channel gets, in one sandboxed Jinja2 environment.

The body is a Jinja2 template rendered with StrictUndefined in a SandboxedEnvironment. Its
context (documented in docs/writing-posts.md):

    post      id, title, path          campaign  name, timezone, language
    channel   name, type, limit        date      the local publish time (aware datetime)
    hashtags  the post's tags, "#a #b" vars      `vars:` from front matter and _defaults.yml

Filters: `date(pattern)` and `time(pattern)` format in the post's language with Babel
(`{{ date | date("EEEE d MMMM") }}` → "maandag 15 november").

The sandbox and its budget are in scheduler.content.sandbox, the shapes and outlines that let templates
share their compiled code in scheduler.content.outline, and a failure in the writer's words in
scheduler.content.template_errors.

Hashtags go on a line of their own after the body unless the body places `{{ hashtags }}`;
a tag already in the body is not repeated; a channel's limit drops the excess with a warning.
The same code renders for validate, preview and the daemon.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from jinja2 import TemplateSyntaxError, nodes
from jinja2.environment import Template
from jinja2.sandbox import SandboxedEnvironment

from scheduler.content import thread, utm
from scheduler.content.campaign import UNKNOWN_LANGUAGE, Campaign, ChannelConfig
from scheduler.content.drafts import Draft
from scheduler.content.fetched import media_and_tags
from scheduler.content.fields import MediaRef
from scheduler.content.files import resolve_media
from scheduler.content.fitting import image_problems
from scheduler.content.hashtags import case_hint, tags_in
from scheduler.content.outline import _LITERALS, _lift_literals, _outline, _same_for_channels
from scheduler.content.placeholders import placeholder_warnings
from scheduler.content.problems import Problem, did_you_mean, error, warning
from scheduler.content.sandbox import (
    _COUNTED,
    _JOINED,
    MAX_OUTPUT,
    _bounded_range,
    _Budget,
    _budget,
    _Budgeted,
    _counted,
    _joined,
    _Refused,
    _Sandbox,
    _sized_filter,
    _Undefined,
    _written,
)
from scheduler.content.template_errors import _TEMPLATE_FILE, _failure, _nesting_line, _template_line
from scheduler.content.videos import Videos, alone, title_and_video
from scheduler.posts import MediaItem, RenderedPost
from scheduler.words import N_, Said

_SURROGATE = re.compile("[\ud800-\udfff]")
_OTHER_TEMPLATES = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


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
    def __init__(self, message: Said, line: int) -> None:
        super().__init__(str(message))
        self.message, self.line = message, line


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
        self._media: dict[str, tuple[Path | None, int, Said | None]] = {}
        self._videos = Videos(campaign.root, lambda written: resolve_media(self.campaign.root, written))

    def renew(self, campaign: Campaign) -> None:
        """Render for `campaign` from now on, checking media files again; its settings and hashtags
        must be those this renderer was made with (compiled templates and tag lists stay valid)."""
        self.campaign = campaign
        self._media.clear()
        self._videos.clear()
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
                    raise _Refused(Said.of(UNKNOWN_LANGUAGE, language=repr(locale))) from None
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
            message = Said.of(
                N_("its hashtags cannot be worked out: {path}:{line} has an error; fix that first"),
                path=broken.path,
                line=broken.line,
            )
            # one line under its cause in listings, not one per post (see problems.causes_first)
            problems.append(replace(error(draft.path, line, message), cause=(broken.path, broken.line)))
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
                    where[0],
                    where[1],
                    Said.of(
                        N_("{channel} allows {limit} hashtags per post; dropped {tags}"),
                        channel=channel.name,
                        limit=limit,
                        tags=", ".join(dropped),
                    ),
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
            problems.append(
                error(path, line_of(1), Said.of(N_("the text contains a lone surrogate (\\ud800-\\udfff)")))
            )
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
        if limits.needs_media or limits.max_hashtags is not None or limits.public_media:
            problems += media_and_tags(draft, channel.name, limits, text, self.campaign.media_url, (path, line_of(1)))
        if limits.title is not None or limits.needs_video:
            problems += title_and_video(draft, channel.name, limits, text, (path, line_of(1)))
        rule = limits.length_for(bool(draft.media))
        length = rule.measure(text)
        parts: tuple[str, ...] = ()
        over = rule.said(text, length)
        if over and draft.thread and limits.replies:
            # The hashtag line goes once, on the first part, where people following a tag see the start.
            split_up = thread.split(body, rule, first_suffix=tag_line)
            if split_up is None:
                over = [
                    Said.of(
                        N_("a word is too long for one part of a thread ({limit} {unit} at most)"),
                        limit=rule.limit,
                        unit=Said.of(rule.unit),
                    )
                ]
            else:
                parts, over, text = split_up, [], split_up[0]
                length = max(rule.measure(part) for part in parts)
        if over:
            held = thread.whole_post_fix(channel.name, draft.thread and limits.replies, limits.replies)
            over[-1] = Said.of(
                N_("{problem}; the whole post is held, on all its channels, until it fits: {fix}"),
                problem=over[-1],
                fix=held,
            )
        for message in over:
            problems.append(
                error(path, line_of(1), Said.of(N_("{channel}: {problem}"), channel=channel.name, problem=message))
            )
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
            result = _TemplateFailed(
                Said.of(
                    N_("the template is {size} characters; at most {most}"),
                    size=f"{len(source):,}",
                    most=f"{MAX_OUTPUT:,}",
                ),
                1,
            )
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
            why = exc.message or exc.__class__.__name__
            result = _TemplateFailed(Said.of(N_("template syntax error: {why}"), why=why), exc.lineno or 1)
        except (RecursionError, SyntaxError) as exc:  # SyntaxError: "too many statically nested blocks"
            result = _TemplateFailed(Said.of(N_("the template is nested too deeply")), _nesting_line(exc.__traceback__))
        except Exception as exc:  # as in drafts: one post's template never stops the plan
            result = _TemplateFailed(
                Said.of(
                    N_("template could not be compiled ({error}); please report this"), error=exc.__class__.__name__
                ),
                1,
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
                    raise _TemplateFailed(
                        Said.of(N_("the template produces more than {most} characters"), most=f"{MAX_OUTPUT:,}"), 1
                    )
                chunks.append(chunk)
        except _TemplateFailed:
            raise
        except Exception as exc:  # the writer's code failed, whichever way: said in their words by _failure
            raise _TemplateFailed(_failure(exc, context), _template_line(exc.__traceback__)) from None
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
            if ref.is_video:
                item, found = self._videos.item(ref, path, channel.name, rules.video)
                problems += found
                items.append(item)
                continue
            if path.suffix.lower() not in rules.kinds:
                problems.append(
                    error(
                        ref.file,
                        ref.line,
                        Said.of(
                            N_("{channel} does not take {kind} files ({path})"),
                            channel=channel.name,
                            kind=path.suffix or Said.of(N_("files without extension")),
                            path=ref.path,
                        ),
                    )
                )
            if (fits := image_problems(ref.path, path, ref.file, ref.line, channel)) is not None:  # fit at plan time
                problems += fits
            elif rules.max_bytes is not None and size > rules.max_bytes:
                problems.append(
                    error(
                        ref.file,
                        ref.line,
                        Said.of(
                            N_("{path} is {size} bytes; {channel} takes at most {most}"),
                            path=ref.path,
                            size=f"{size:,}",
                            channel=channel.name,
                            most=f"{rules.max_bytes:,}",
                        ),
                    )
                )
            items.append(MediaItem(path, ref.alt))
        problems += alone(draft, channel.name, rules.video)
        if rules.max_items is not None and len(draft.media) > rules.max_items:
            line = draft.line_of("media")
            problems.append(
                error(
                    line[0],
                    line[1],
                    Said.of(
                        N_("{channel} takes at most {most} media items; this post has {n}"),
                        channel=channel.name,
                        most=rules.max_items,
                        n=len(draft.media),
                    ),
                )
            )
        return tuple(items)

    def _check_media(self, ref: MediaRef) -> tuple[Path | None, int, Said | None]:
        cached = self._media.get(ref.path)
        if cached is None:
            cached = self._media[ref.path] = resolve_media(self.campaign.root, ref.path)
        return cached


def _casefolded_tags(text: str) -> frozenset[str]:
    return frozenset(t.casefold() for t in tags_in(text)) if "#" in text else frozenset()


def _check_names(tree: nodes.Template, env: SandboxedEnvironment) -> None:
    """Other templates, unknown filters and tests: found in the parsed tree, named in our words."""
    for other in tree.find_all(_OTHER_TEMPLATES):
        raise _TemplateFailed(Said.of(N_("a post cannot include, extend or import other templates")), other.lineno)
    for kind, node_type, known in (
        (N_("unknown filter {name}{hint}"), nodes.Filter, env.filters),
        (N_("unknown test {name}{hint}"), nodes.Test, env.tests),
    ):
        for used in tree.find_all(node_type):
            if used.name not in known:
                said = Said.of(kind, name=repr(used.name), hint=did_you_mean(used.name, known))
                raise _TemplateFailed(said, used.lineno)
