"""A post's front matter, key by key: which keys a post and a _defaults.yml may set, and each value
checked, with a message that names the file and line where it was written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from babel import Locale, UnknownLocaleError

from scheduler.content import yamlfile
from scheduler.content.campaign import POSTS_DIR, Campaign
from scheduler.content.problems import Problem, did_you_mean, error
from scheduler.content.schedule import ScheduleError, publish_at
from scheduler.posts import LINK_CHECKS, LinkCard
from scheduler.settings import DurationTooLong, parse_duration

POST_KEYS = frozenset(
    {
        "id",
        "title",
        "publish_at",
        "channels",
        "hashtags",
        "media",
        "draft",
        "overrides",
        "max_late",
        "allow_repeat",
        "card",
        "vars",
        "language",
        "thread",
        "link_check",
        "signoff",
    }
)
DEFAULTS_KEYS = (POST_KEYS - {"id", "publish_at"}) | {"schedule"}
ROOT_DEFAULTS_KEYS = DEFAULTS_KEYS | {"timezone", "campaign", "utm"}  # utm: see content/utm.py
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]*$")
TEAM = "team"  # `signoff: team`: any operator of the dashboard may approve
_NAME = re.compile(r"^\w[\w .-]{0,59}$")


@dataclass(frozen=True)
class Origin:
    """Where a value was written: a post or a _defaults.yml, and the line."""

    path: str
    line: int


@dataclass(frozen=True)
class MediaRef:
    path: str  # as written, relative to the campaign root
    alt: str
    line: int
    file: str  # the post or _defaults.yml it was written in


@dataclass(frozen=True)
class Override:
    """A channel's own body and/or hashtags for one post (`overrides: {bluesky: {body: ...}}`)."""

    body: str | None
    hashtags: tuple[str, ...] | None
    line: int
    file: str  # the post or _defaults.yml it was written in
    body_lines: tuple[int, int]  # first and last line of the body's text in that file


def _unknown_key(
    key: Any, allowed: frozenset[str], elsewhere: frozenset[str], where: str = "a post's own front matter"
) -> str:
    if key in elsewhere:
        return f"{key!r} cannot be set here (only in {where})"
    return f"unknown key {key!r}{did_you_mean(str(key), allowed)}"


class _Fields:
    """Typed access to one post's effective front matter, reporting each wrong value once."""

    def __init__(
        self, campaign: Campaign, relative: str, values: dict[str, tuple[Any, Origin]], problems: list[Problem]
    ) -> None:
        self.campaign, self.relative, self.values, self.problems = campaign, relative, values, problems

    def _get(self, key: str) -> tuple[Any, Origin] | None:
        return self.values.get(key)

    def _error(self, origin: Origin, message: str) -> None:
        self.problems.append(error(origin.path, origin.line, message))

    def post_id(self) -> str:
        found = self._get("id")
        default = str(PurePosixPath(self.relative).relative_to(POSTS_DIR).with_suffix(""))
        if found is None:
            return default
        value, origin = found
        if not isinstance(value, str) or not _ID.match(value):
            self._error(origin, "id must be letters, digits, / _ . - (starting with a letter or digit)")
            return default
        return value

    def text(self, key: str) -> str | None:
        found = self._get(key)
        if found is None or found[0] is None:
            return None
        if not isinstance(found[0], str):
            self._error(found[1], f"{key} must be text")
            return None
        return found[0]

    def flag(self, key: str) -> bool:
        found = self._get(key)
        if found is None:
            return False
        if not isinstance(found[0], bool):
            self._error(found[1], f"{key} must be true or false")
            return False
        return found[0]

    def mapping(self, key: str) -> Mapping[str, Any]:
        found = self._get(key)
        if found is None or found[0] is None:
            return {}
        if not isinstance(found[0], Mapping):
            self._error(found[1], f"{key} must be a mapping of names to values")
            return {}
        return {str(k): v for k, v in found[0].items()}

    def publish_at(self) -> datetime | None:
        found = self._get("publish_at")
        if found is None:
            return None
        try:
            return publish_at(found[0], self.campaign.settings.timezone)
        except ScheduleError as exc:
            self._error(found[1], f"publish_at: {exc}")
            return None

    def duration(self, key: str) -> timedelta | None:
        found = self._get(key)
        if found is None:
            return None
        value, origin = found
        if value == 0:
            return timedelta(0)
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except DurationTooLong:
                self._error(origin, f"{key}: {value} is too long")
                return None
            except ValueError:
                pass
        self._error(origin, f"{key} must be a duration such as '30 minutes', '6 hours' or '1 day'")
        return None

    def channels(self) -> tuple[str, ...]:
        found = self._get("channels")
        if found is None:
            self.problems.append(
                error(self.relative, 1, "no channels: set channels in the post or in posts/_defaults.yml")
            )
            return ()
        value, origin = found
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._error(origin, "channels must be a list of channel names from channels.yml")
            return ()
        known = self.campaign.channels
        if self.campaign.channels_unread is not None:
            return tuple(dict.fromkeys(value))  # checked once channels.yml reads again; its error holds them
        for name in value:
            if name not in known and name not in self.campaign.broken_channels:  # that one: channels.yml's error
                self._error(
                    origin,
                    f"unknown channel {name!r}{did_you_mean(name, known)} "
                    f"(channels.yml has {', '.join(sorted(known)) or 'none'})",
                )
        return tuple(dict.fromkeys(value))

    def _tags(self, value: Any, origin: Origin, what: str) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._error(origin, f"{what} must be a list of hashtags or set names")
            return None
        for ref in value:
            problem = self.campaign.hashtags.check(ref)
            if problem:
                self._error(origin, problem)
        return tuple(value)

    def hashtags(self) -> tuple[str, ...] | None:
        found = self._get("hashtags")
        return None if found is None else self._tags(found[0], found[1], "hashtags")

    def media(self) -> tuple[MediaRef, ...]:
        found = self._get("media")
        if found is None or found[0] is None:
            return ()
        value, origin = found
        if not isinstance(value, list):
            self._error(origin, "media must be a list of {path, alt}")
            return ()
        items = []
        for index, item in enumerate(value):
            line = value.line_of(index) if isinstance(value, yamlfile.LineList) else origin.line
            where = Origin(origin.path, line)
            if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
                self._error(where, "each media item needs a path (and alt text)")
                continue
            extra = set(item) - {"path", "alt"}
            if extra:
                self._error(where, f"unknown media key(s) {', '.join(sorted(map(str, extra)))}; expected path, alt")
            alt = item.get("alt")
            if not isinstance(alt, str) or not alt.strip():
                self._error(
                    where, f"{item['path']}: alt text is missing; describe the image for people who cannot see it"
                )
                continue
            items.append(MediaRef(item["path"], alt.strip(), line, origin.path))
        return tuple(items)

    def overrides(self) -> Mapping[str, Override]:
        found = self._get("overrides")
        if found is None or found[0] is None:
            return {}
        value, origin = found
        if not isinstance(value, Mapping):
            self._error(origin, "overrides must map a channel name or type to {body, hashtags}")
            return {}
        names = set(self.campaign.channels) | set(self.campaign.broken_channels)
        names |= {c.type for c in self.campaign.channels.values()}
        result = {}
        for channel, spec in value.items():
            line = value.line_of(channel) if isinstance(value, yamlfile.LineDict) else origin.line
            where = Origin(origin.path, line)
            if channel not in names and self.campaign.channels_unread is None:
                self._error(where, f"overrides: {channel!r} is neither a channel nor a channel type in channels.yml")
                continue
            if not isinstance(spec, Mapping) or set(spec) - {"body", "hashtags"} or not spec:
                self._error(where, f"overrides.{channel} takes body and/or hashtags")
                continue
            body = spec.get("body")
            if body is not None and not isinstance(body, str):
                self._error(where, f"overrides.{channel}.body must be text")
                continue
            tags = self._tags(spec["hashtags"], where, f"overrides.{channel}.hashtags") if "hashtags" in spec else None
            body_lines = spec.value_lines_of("body") if isinstance(spec, yamlfile.LineDict) else (line, line)
            result[str(channel)] = Override(body, tags, line, origin.path, body_lines)
        return result

    def card(self) -> LinkCard | None:
        found = self._get("card")
        if found is None or found[0] is None:
            return None
        value, origin = found
        if not isinstance(value, Mapping) or set(value) - {"title", "description"}:
            self._error(origin, "card takes title and description")
            return None
        return LinkCard(title=_str_or_none(value.get("title")), description=_str_or_none(value.get("description")))

    def link_check(self) -> str:
        found = self._get("link_check")
        if found is None:
            return LINK_CHECKS[0]
        value, origin = found
        if value not in LINK_CHECKS:
            hint = did_you_mean(value, LINK_CHECKS) if isinstance(value, str) else ""
            self._error(origin, f"unknown link_check {value!r}{hint} (hold, warn or off)")
            return LINK_CHECKS[0]
        return str(value)

    def signoff(self) -> tuple[str, ...]:
        """Who must approve the post's exact text before it goes out: names, or (TEAM,) for any operator."""
        found = self._get("signoff")
        if found is None or found[0] is None:
            return ()
        value, origin = found
        if value == TEAM:
            return (TEAM,)
        names = value if isinstance(value, list) else None
        if not names or not all(isinstance(n, str) and _NAME.match(n) for n in names):
            self._error(
                origin,
                "signoff must be a list of names (letters, digits, spaces, - _ . up to 60 characters), "
                "such as [verteller], or team",
            )
            return ()
        return tuple(dict.fromkeys(n.strip() for n in names))

    def language(self) -> str | None:
        value = self.text("language")
        if value is None:
            return None
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError):
            found = self._get("language")
            assert found is not None
            self._error(found[1], f"unknown language {value!r} (use a code such as nl or en)")
            return None
        return value


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
