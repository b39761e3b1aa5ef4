"""The values scheduler.content.stored keeps, as JSON data and back: a Draft and a Rendered.

`encode` takes exactly the project's types (not a subclass, not an object of another kind) and
`decode` rebuilds them field by field from plain JSON, checking every type on the way; anything else
raises Miss, which the store counts as a miss. Nothing here can run code: no pickle, no marshal, no
look-up of a class or function by a name read from the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import date, datetime, timedelta, timezone
from typing import Any

from scheduler.content.drafts import Draft
from scheduler.content.fields import MediaRef, Origin, Override
from scheduler.content.render import Rendered
from scheduler.content.yamlfile import LineDict, LineList
from scheduler.posts import LinkCard, RenderedPost


class Miss(Exception):
    """An entry that is not exactly what this code writes."""


class _Codec:
    """Typed encoding of a Draft and of a Rendered; `decode` accepts only what `encode` writes."""

    # A value from YAML as the drafts keep it (vars, schedule): plain data with its lines.
    def data(self, value: Any, depth: int = 0) -> Any:
        if depth > 50:
            raise Miss("too deep")
        kind = type(value)
        if value is None or kind in (str, bool, int):
            return value
        if kind is float:
            return ["f", repr(value)]
        if kind is datetime:
            zone = value.tzinfo
            if zone is not None and type(zone) is not timezone:
                raise Miss("a time zone other than a fixed offset")
            return ["dt", value.isoformat()]
        if kind is date:
            return ["d", value.isoformat()]
        if kind is LineDict:
            keys = list(value)
            return [
                "m",
                value.line,
                [[self.data(k, depth + 1), self.data(value[k], depth + 1), value.lines.get(k)] for k in keys],
                [[self.data(k, depth + 1), list(v)] for k, v in value.value_lines.items()],
            ]
        if kind is LineList:
            return ["l", value.line, [self.data(item, depth + 1) for item in value], list(value.lines)]
        if kind is dict:
            return ["p", [[self.data(k, depth + 1), self.data(v, depth + 1)] for k, v in value.items()]]
        raise Miss(f"not plain data: {kind.__name__}")

    def undata(self, raw: Any, depth: int = 0) -> Any:
        if depth > 50:
            raise Miss("too deep")
        if raw is None or type(raw) in (str, bool, int):
            return raw
        if type(raw) is not list or not raw or type(raw[0]) is not str:
            raise Miss("not a tagged value")
        tag, rest = raw[0], raw[1:]
        if tag == "f" and len(rest) == 1:
            return float(_str(rest[0]))
        if tag == "dt" and len(rest) == 1:
            value = datetime.fromisoformat(_str(rest[0]))
            if value.tzinfo is not None and type(value.tzinfo) is not timezone:
                raise Miss("zone")
            return value
        if tag == "d" and len(rest) == 1:
            return date.fromisoformat(_str(rest[0]))
        if tag == "m" and len(rest) == 3:
            mapping = LineDict()
            mapping.line = _int(rest[0])
            for item in _list(rest[1]):
                k, v, line = _list(item, 3)
                key = self.undata(k, depth + 1)
                if not (key is None or type(key) in (str, bool, int, float)) or key in mapping:
                    raise Miss("key")
                mapping[key] = self.undata(v, depth + 1)
                if line is not None:
                    mapping.lines[key] = _int(line)
            for item in _list(rest[2]):
                k, lines = _list(item, 2)
                first, last = _list(lines, 2)
                mapping.value_lines[self.undata(k, depth + 1)] = (_int(first), _int(last))
            return mapping
        if tag == "l" and len(rest) == 3:
            sequence = LineList()
            sequence.line = _int(rest[0])
            sequence.extend(self.undata(item, depth + 1) for item in _list(rest[1]))
            sequence.lines = [_int(line) for line in _list(rest[2])]
            return sequence
        if tag == "p" and len(rest) == 1:
            plain = {}
            for item in _list(rest[0]):
                k, v = _list(item, 2)
                plain[self.undata(k, depth + 1)] = self.undata(v, depth + 1)
            return plain
        raise Miss(f"unknown tag {tag!r}")

    def draft(self, draft: Draft) -> list[Any]:
        if type(draft) is not Draft:
            raise Miss("not a Draft")
        d = draft
        return [
            _s(d.id),
            _s(d.path),
            _s(d.body),
            _i(d.body_line),
            [[_s(k), _s(o.path), _i(o.line)] for k, o in _typed(d.origins, Origin)],
            [_s(c) for c in d.channels],
            _os(d.title),
            None if d.publish_at is None else self.data(d.publish_at),
            None if d.hashtags is None else [_s(t) for t in d.hashtags],
            [self._media(m) for m in d.media],
            _b(d.draft),
            [self._override(k, o) for k, o in _typed(d.overrides, Override)],
            None if d.max_late is None else [d.max_late.days, d.max_late.seconds, d.max_late.microseconds],
            _b(d.allow_repeat),
            None if d.card is None else [_os(d.card.title), _os(d.card.description)],
            [[_s(k), self.data(v)] for k, v in d.vars.items()] if type(d.vars) is dict else _refuse("vars"),
            _os(d.language),
            _b(d.thread),
            _s(d.link_check),
            self.data(d.schedule),
            _os(d.series),
            [_s(s) for s in d.signoff],
        ]

    def undraft(self, raw: Any) -> Draft:
        (
            post_id,
            path,
            body,
            body_line,
            origins,
            channels,
            title,
            publish_at,
            hashtags,
            media,
            is_draft,
            overrides,
            max_late,
            allow_repeat,
            card,
            variables,
            language,
            thread,
            link_check,
            schedule,
            series,
            signoff,
        ) = _list(raw, len(fields(Draft)))
        when = None if publish_at is None else self.undata(publish_at)
        if when is not None and (type(when) is not datetime or when.tzinfo is None):
            raise Miss("publish_at")
        late = None
        if max_late is not None:
            days, seconds, micro = _list(max_late, 3)
            late = timedelta(days=_int(days), seconds=_int(seconds), microseconds=_int(micro))
        link_card = None
        if card is not None:
            card_title, description = _list(card, 2)
            link_card = LinkCard(_ostr(card_title), _ostr(description))
        origin_map = {}
        for item in _list(origins):
            key, file, line = _list(item, 3)
            origin_map[_str(key)] = Origin(_str(file), _int(line))
        override_map = {}
        for item in _list(overrides):
            key, override = self._unoverride(item)
            override_map[key] = override
        vars_map = {}
        for item in _list(variables):
            key, value = _list(item, 2)
            vars_map[_str(key)] = self.undata(value)
        return Draft(
            id=_str(post_id),
            path=_str(path),
            body=_str(body),
            body_line=_int(body_line),
            origins=origin_map,
            channels=tuple(_str(c) for c in _list(channels)),
            title=_ostr(title),
            publish_at=when,
            hashtags=None if hashtags is None else tuple(_str(t) for t in _list(hashtags)),
            media=tuple(self._unmedia(m) for m in _list(media)),
            draft=_bool(is_draft),
            overrides=override_map,
            max_late=late,
            allow_repeat=_bool(allow_repeat),
            card=link_card,
            vars=vars_map,
            language=_ostr(language),
            thread=_bool(thread),
            link_check=_str(link_check),
            schedule=self.undata(schedule),
            series=_ostr(series),
            signoff=tuple(_str(s) for s in _list(signoff)),
        )

    def _media(self, ref: MediaRef) -> list[Any]:
        if type(ref) is not MediaRef:
            raise Miss("media")
        captions = [[_s(language), _s(file)] for language, file in ref.captions]
        return [_s(ref.path), _s(ref.alt), _i(ref.line), _s(ref.file), captions, _os(ref.no_captions)]

    def _unmedia(self, raw: Any) -> MediaRef:
        path, alt, line, file, captions, no_captions = _list(raw, 6)
        pairs = tuple((_str(a), _str(b)) for a, b in (_list(c, 2) for c in _list(captions)))
        return MediaRef(_str(path), _str(alt), _int(line), _str(file), pairs, _ostr(no_captions))

    def _override(self, key: str, o: Override) -> list[Any]:
        tags = None if o.hashtags is None else [_s(t) for t in o.hashtags]
        first, last = o.body_lines
        return [_s(key), _os(o.body), tags, _i(o.line), _s(o.file), [_i(first), _i(last)]]

    def _unoverride(self, raw: Any) -> tuple[str, Override]:
        key, body, tags, line, file, lines = _list(raw, 6)
        first, last = _list(lines, 2)
        hashtags = None if tags is None else tuple(_str(t) for t in _list(tags))
        return _str(key), Override(_ostr(body), hashtags, _int(line), _str(file), (_int(first), _int(last)))

    def rendered(self, rendered: Rendered) -> list[Any]:
        post = rendered.post
        if post is None or rendered.problems or post.media or type(post) is not RenderedPost:
            raise Miss("not kept: problems or media")
        card = None if post.card is None else [_os(post.card.title), _os(post.card.description)]
        return [
            _s(post.post),
            _s(post.channel),
            _s(post.text),
            _s(post.language),
            card,
            _os(post.title),
            [_s(p) for p in post.parts],
            _s(post.link_check),
            _oi(rendered.length),
            _oi(rendered.limit),
        ]

    def unrendered(self, raw: Any) -> Rendered:
        post, channel, text, language, card, title, parts, link_check, length, limit = _list(raw, 10)
        link_card = None
        if card is not None:
            card_title, description = _list(card, 2)
            link_card = LinkCard(_ostr(card_title), _ostr(description))
        rendered = RenderedPost(
            post=_str(post),
            channel=_str(channel),
            text=_str(text),
            media=(),
            language=_str(language),
            card=link_card,
            title=_ostr(title),
            parts=tuple(_str(p) for p in _list(parts)),
            link_check=_str(link_check),
        )
        return Rendered(rendered, _oint(length), _oint(limit), ())


def _refuse(what: str) -> Any:
    raise Miss(what)


def _typed(mapping: Any, kind: type) -> Iterable[tuple[str, Any]]:
    if not isinstance(mapping, dict):
        raise Miss("not a dict")
    for key, value in mapping.items():
        if type(key) is not str or type(value) is not kind:
            raise Miss(kind.__name__)
        yield key, value


# Writing: only exactly these types (a subclass could behave differently when rebuilt).
def _s(value: Any) -> str:
    if type(value) is not str:
        raise Miss("str")
    return str(value)


def _os(value: Any) -> str | None:
    return None if value is None else _s(value)


def _i(value: Any) -> int:
    if type(value) is not int:
        raise Miss("int")
    return int(value)


def _oi(value: Any) -> int | None:
    return None if value is None else _i(value)


def _b(value: Any) -> bool:
    if type(value) is not bool:
        raise Miss("bool")
    return bool(value)


# Reading: the same checks on what JSON gave back.
def _str(value: Any) -> str:
    if type(value) is not str:
        raise Miss("str")
    return str(value)


def _ostr(value: Any) -> str | None:
    return None if value is None else _str(value)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise Miss("int")
    return int(value)


def _oint(value: Any) -> int | None:
    return None if value is None else _int(value)


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise Miss("bool")
    return bool(value)


def _list(value: Any, length: int | None = None) -> list[Any]:
    if type(value) is not list or (length is not None and len(value) != length):
        raise Miss("list")
    return list(value)


CODEC = _Codec()
