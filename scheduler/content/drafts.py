"""posts/ → validated drafts. Every problem names its file and line; one broken file never
stops the others.

A post is `posts/**/*.md` (names starting with `_` or `.` are skipped): YAML front matter
between `---` lines, then the body. `_defaults.yml` in any folder gives defaults for the posts
in it and below: deeper folders override shallower ones key by key (`vars` merge by name), and
a post's own front matter overrides them all. A post's identity is its path under posts/
without `.md`, unless it gives `id:`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from frontmatter.default_handlers import YAMLHandler

from scheduler.content import yamlfile
from scheduler.content.campaign import DEFAULTS_FILE, POSTS_DIR, Campaign
from scheduler.content.fields import (
    _ID,
    DEFAULTS_KEYS,
    POST_KEYS,
    ROOT_DEFAULTS_KEYS,
    MediaRef,
    Origin,
    Override,
    _Fields,
    _unknown_key,
)
from scheduler.content.files import read_text, read_yaml_mapping
from scheduler.content.parallel import map_forked
from scheduler.content.problems import Problem, error
from scheduler.posts import LinkCard
from scheduler.words import N_, Said

_HANDLER = YAMLHandler()
_BROKEN = " broken"  # in a folder's defaults: the _defaults.yml above that could not be read (never a key)


Defaults = dict[str, tuple[Any, Origin]]  # a folder's defaults: key → (value, where it was set)


@dataclass(frozen=True)
class Draft:
    """One post as written, validated; times not yet resolved for series members."""

    id: str
    path: str  # relative to the campaign root, e.g. posts/tips/01-maandag.md
    body: str  # the template source; its line 1 is file line `body_line`
    body_line: int
    origins: Mapping[str, Origin]
    channels: tuple[str, ...]
    title: str | None = None
    publish_at: datetime | None = None  # UTC; None for series members
    hashtags: tuple[str, ...] | None = None  # added to the campaign default; None: not set; (): no tags
    media: tuple[MediaRef, ...] = ()
    draft: bool = False
    overrides: Mapping[str, Override] = field(default_factory=dict)
    max_late: timedelta | None = None
    allow_repeat: bool = False
    card: LinkCard | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None
    thread: bool = False  # split a text over a channel's limit into replies, where the network has them
    link_check: str = "hold"  # what the daemon does with a dead link just before sending (posts.LINK_CHECKS)
    schedule: Any = None  # the series spec that applies, if any
    series: str | None = None  # the _defaults.yml path that declared it
    signoff: tuple[str, ...] = ()  # who must approve its exact text first (fields.TEAM: any operator)

    def line_of(self, key: str) -> tuple[str, int]:
        """(file, line) where `key` was set, else this post's first line."""
        origin = self.origins.get(key)
        return (origin.path, origin.line) if origin else (self.path, 1)


def is_post_id(value: str) -> bool:
    """Whether `value` can be a post's `id:` (letters, digits, / _ . -, starting with a letter or digit)."""
    return bool(_ID.match(value))


class Reader:
    """How `read_all` reads one folder's _defaults.yml and one post: by reading them.
    scheduler.content.cache keeps what it read and reads again only what changed."""

    def defaults(self, campaign: Campaign, folder: Path, problems: list[Problem]) -> Defaults:
        """The keys `folder`'s own _defaults.yml sets, its problems added to `problems`."""
        return _read_defaults(campaign, folder, problems)

    def post(self, campaign: Campaign, path: str, defaults: Defaults, problems: list[Problem]) -> Draft | None:
        """The post at `path` under its folders' `defaults`, or None; its problems added to `problems`."""
        return _read_post(campaign, Path(path), defaults, problems)

    def known(self, posts: Sequence[tuple[str, Defaults]]) -> dict[str, Draft]:
        """Posts (by path) whose drafts are at hand without reading them (none here), with no problems;
        asked once, before any post is read. scheduler.content.stored takes them from its store."""
        return {}

    def done(self, path: str, draft: Draft | None, problems: list[Problem]) -> None:
        """`post` read the post at `path` (maybe in a forked worker); told here, in the calling process."""


def read_all(
    campaign: Campaign, *, parallel: bool = False, reader: Reader | None = None
) -> tuple[list[Draft], list[Problem]]:
    """Every post under posts/, with every problem found; drafts with errors are left out.

    `parallel`: read the posts in forked workers when there are many (see scheduler.content.parallel).
    `reader`: how each file is read (by default, afresh).
    """
    reader = reader or Reader()
    posts_dir = campaign.root / POSTS_DIR
    if not posts_dir.is_dir():
        return [], [error(POSTS_DIR, 0, Said.of(N_("there is no posts/ folder in the campaign root")))]
    problems: list[Problem] = []
    posts: list[tuple[str, Defaults]] = []  # each post file, with its folders' defaults
    inherited: dict[Path, dict[str, tuple[Any, Origin]]] = {}
    for folder, dirs, files in os.walk(posts_dir):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")) and _utf8_name(campaign, here, d, problems))
        parent = inherited.get(here.parent, {}) if here != posts_dir else {}
        inherited[here] = _merge(parent, reader.defaults(campaign, here, problems))
        defaults = inherited[here]
        for name in sorted(files):
            if (
                name.startswith(("_", "."))
                or not name.endswith(".md")
                or not (name.isascii() or _utf8_name(campaign, here, name, problems))
            ):
                continue
            posts.append((f"{folder}{os.sep}{name}", defaults))  # os.path.join, without its checks: 10,000 times

    def read(post: tuple[str, Defaults]) -> tuple[Draft | None, list[Problem]]:
        found: list[Problem] = []
        return reader.post(campaign, post[0], post[1], found), found

    known = reader.known(posts)
    todo = [post for post in posts if post[0] not in known] if known else posts
    results = iter(map_forked(read, todo) if parallel else map(read, todo))
    drafts: list[Draft] = []
    for path, _defaults in posts:
        if path in known:
            drafts.append(known[path])
            continue
        draft, found = next(results)
        reader.done(path, draft, found)
        problems += found
        if draft is not None:
            drafts.append(draft)
    _check_unique_ids(drafts, problems)
    return drafts, problems


def _merge(parent: dict[str, tuple[Any, Origin]], own: dict[str, tuple[Any, Origin]]) -> dict[str, tuple[Any, Origin]]:
    """The one merge of front matter over defaults (and of a folder's defaults over its parent's): key by
    key, `vars` name by name."""
    merged = dict(parent)
    for key, (value, origin) in own.items():
        if key == _BROKEN and key in merged:
            continue  # the shallowest broken file is the one to fix first
        if key == "vars" and isinstance(value, Mapping) and isinstance(merged.get(key, (None,))[0], Mapping):
            value = {**merged[key][0], **value}
        merged[key] = (value, origin)
    return merged


def _relative(campaign: Campaign, path: Path) -> str:
    return path.relative_to(campaign.root).as_posix()


def _utf8_name(campaign: Campaign, folder: Path, name: str, problems: list[Problem]) -> bool:
    """False, with a problem, for a file or folder name that is not UTF-8: it could not be shown."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.walk gives undecodable bytes as lone surrogates
        shown = _relative(campaign, folder / name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        problems.append(error(shown, 0, Said.of(N_("the name is not valid UTF-8; rename it"))))
        return False
    return True


def _read_defaults(campaign: Campaign, folder: Path, problems: list[Problem]) -> dict[str, tuple[Any, Origin]]:
    path = folder / DEFAULTS_FILE
    if not os.path.lexists(path):
        return {}
    relative = _relative(campaign, path)
    is_root = folder == campaign.root / POSTS_DIR
    if is_root:
        data = campaign.root_defaults  # already read (and its problems reported) by campaign.load
        broken = campaign.root_defaults_broken
    else:
        data, found = read_yaml_mapping(campaign.root, relative)
        problems += found
        broken = next((p for p in found if p.is_error), None)
    if broken is not None:  # the posts below are not guessed at without it: each is reported once
        return {_BROKEN: (None, Origin(relative, broken.line))}
    allowed = ROOT_DEFAULTS_KEYS if is_root else DEFAULTS_KEYS
    own = {}
    for key, value in data.items():
        line = data.line_of(key)
        if key not in allowed:
            problems.append(error(relative, line, _unknown_key(key, allowed, POST_KEYS - allowed)))
            continue
        if key in ("timezone", "campaign"):
            continue  # campaign settings, read by scheduler.content.campaign
        own[str(key)] = (value, Origin(relative, line))
    return own


def _read_post(
    campaign: Campaign, path: Path, defaults: dict[str, tuple[Any, Origin]], problems: list[Problem]
) -> Draft | None:
    relative = _relative(campaign, path)
    if _BROKEN in defaults:
        cause = defaults[_BROKEN][1]
        message = Said.of(
            N_("not checked: {path} is broken (line {line}); fix it first"), path=cause.path, line=cause.line
        )
        problems.append(replace(error(relative, 1, message), cause=(cause.path, cause.line)))
        return None
    try:
        return _parse_post(campaign, path, relative, defaults, problems)
    except Exception as exc:
        problems.append(
            error(
                relative,
                0,
                Said.of(N_("could not be read ({error}); please report this"), error=exc.__class__.__name__),
            )
        )
        return None


def _split(text: str, relative: str, problems: list[Problem]) -> tuple[Any, str, int] | None:
    """(front matter data, body, body's first line)."""
    if not _HANDLER.detect(text):
        return yamlfile.LineDict(), text, 1
    try:
        fm, body = _HANDLER.split(text)
    except ValueError:
        problems.append(error(relative, 1, Said.of(N_("front matter starts with --- but has no closing --- line"))))
        return None
    try:
        data = yamlfile.load(fm, first_line=1)
    except yamlfile.YamlError as exc:
        problems.append(error(relative, exc.line, exc.said))
        return None
    if data is None:
        data = yamlfile.LineDict()
    if not isinstance(data, yamlfile.LineDict):
        problems.append(error(relative, 2, Said.of(N_("front matter must be keys and values (key: value)"))))
        return None
    body_line = text.count("\n", 0, len(text) - len(body)) + 1
    return data, body, body_line


def _parse_post(
    campaign: Campaign, path: Path, relative: str, defaults: dict[str, tuple[Any, Origin]], problems: list[Problem]
) -> Draft | None:
    text, problem = read_text(campaign.root, path, relative)
    if problem is not None:
        problems.append(problem)
    if text is None:
        return None
    split = _split(text, relative, problems)
    if split is None:
        return None
    data, body, body_line = split
    before = len(problems)
    own: dict[str, tuple[Any, Origin]] = {}
    for key, value in data.items():
        line = data.line_of(key)
        if key not in POST_KEYS:
            problems.append(
                error(
                    relative,
                    line,
                    _unknown_key(
                        key,
                        POST_KEYS,
                        frozenset({"schedule", "timezone", "campaign"}),
                        Said.of(N_("a _defaults.yml")),
                    ),
                )
            )
            continue
        own[str(key)] = (value, Origin(relative, line))
    values = _merge(defaults, own)
    fields = _Fields(campaign, relative, values, problems)
    post_id = fields.post_id()
    draft = Draft(
        id=post_id,
        path=relative,
        body=body,
        body_line=body_line,
        origins={key: origin for key, (_, origin) in values.items()},
        channels=fields.channels(),
        title=fields.text("title"),
        publish_at=fields.publish_at(),
        hashtags=fields.hashtags(),
        media=fields.media(),
        draft=fields.flag("draft"),
        overrides=fields.overrides(),
        max_late=fields.duration("max_late"),
        allow_repeat=fields.flag("allow_repeat"),
        card=fields.card(),
        vars=fields.mapping("vars"),
        language=fields.language(),
        thread=fields.flag("thread"),
        link_check=fields.link_check(),
        signoff=fields.signoff(),
        schedule=values["schedule"][0] if "schedule" in values else None,
        series=values["schedule"][1].path if "schedule" in values else None,
    )
    if not body.strip() and not draft.overrides:
        problems.append(error(relative, body_line, Said.of(N_("the post has no text"))))
    errors = [p for p in problems[before:] if p.is_error]
    if errors and all(p.path != relative for p in errors):  # so that the post itself shows as not planned
        cause = min(errors)
        problems.append(
            error(
                relative,
                1,
                Said.of(N_("not planned: it takes a wrong value from {path}:{line}"), path=cause.path, line=cause.line),
            )
        )
    return None if errors else draft


def _check_unique_ids(drafts: list[Draft], problems: list[Problem]) -> None:
    by_id: dict[str, list[Draft]] = {}
    for draft in drafts:
        by_id.setdefault(draft.id, []).append(draft)
    for post_id, same in by_id.items():
        if len(same) > 1:
            paths = ", ".join(d.path for d in same)
            for draft in same:
                problems.append(
                    error(
                        draft.path,
                        draft.line_of("id")[1],
                        Said.of(N_("post id {id} is used by {paths}"), id=repr(post_id), paths=paths),
                    )
                )
    # Posts sharing an id are all left out: which one is meant cannot be guessed.
    duplicated = {post_id for post_id, same in by_id.items() if len(same) > 1}
    drafts[:] = [d for d in drafts if d.id not in duplicated]
