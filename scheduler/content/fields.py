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
from scheduler.content.campaign import POSTS_DIR, UNKNOWN_LANGUAGE, Campaign
from scheduler.content.problems import Problem, did_you_mean, error
from scheduler.content.schedule import ScheduleError, publish_at
from scheduler.posts import LINK_CHECKS, VIDEO_KINDS, LinkCard
from scheduler.settings import DurationTooLong, parse_duration
from scheduler.words import N_, Said

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
    }
)
DEFAULTS_KEYS = (POST_KEYS - {"id", "publish_at"}) | {"schedule"}
ROOT_DEFAULTS_KEYS = DEFAULTS_KEYS | {"timezone", "campaign", "utm"}  # utm: see content/utm.py
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]*$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")  # BCP 47, as far as a captions file needs


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
    captions: tuple[tuple[str, str], ...] = ()  # a video's (language, file as written), in the order written
    no_captions: str | None = None  # `captions: {none: "why"}`: a video with nothing to caption, and why

    @property
    def is_video(self) -> bool:
        return PurePosixPath(self.path).suffix.lower() in VIDEO_KINDS


@dataclass(frozen=True)
class Override:
    """A channel's own body and/or hashtags for one post (`overrides: {bluesky: {body: ...}}`)."""

    body: str | None
    hashtags: tuple[str, ...] | None
    line: int
    file: str  # the post or _defaults.yml it was written in
    body_lines: tuple[int, int]  # first and last line of the body's text in that file


OWN_FRONT_MATTER = Said.of(N_("a post's own front matter"))


def _unknown_key(key: Any, allowed: frozenset[str], elsewhere: frozenset[str], where: Said = OWN_FRONT_MATTER) -> Said:
    if key in elsewhere:
        return Said.of(N_("{key} cannot be set here (only in {where})"), key=repr(key), where=where)
    return Said.of(N_("unknown key {key}{hint}"), key=repr(key), hint=did_you_mean(str(key), allowed))


class _Fields:
    """Typed access to one post's effective front matter, reporting each wrong value once."""

    def __init__(
        self, campaign: Campaign, relative: str, values: dict[str, tuple[Any, Origin]], problems: list[Problem]
    ) -> None:
        self.campaign, self.relative, self.values, self.problems = campaign, relative, values, problems

    def _get(self, key: str) -> tuple[Any, Origin] | None:
        return self.values.get(key)

    def _error(self, origin: Origin, message: Said | str) -> None:
        self.problems.append(error(origin.path, origin.line, message))

    def post_id(self) -> str:
        found = self._get("id")
        default = str(PurePosixPath(self.relative).relative_to(POSTS_DIR).with_suffix(""))
        if found is None:
            return default
        value, origin = found
        if not isinstance(value, str) or not _ID.match(value):
            self._error(origin, Said.of(N_("id must be letters, digits, / _ . - (starting with a letter or digit)")))
            return default
        return value

    def text(self, key: str) -> str | None:
        found = self._get(key)
        if found is None or found[0] is None:
            return None
        if not isinstance(found[0], str):
            self._error(found[1], Said.of(N_("{key} must be text"), key=key))
            return None
        return found[0]

    def flag(self, key: str) -> bool:
        found = self._get(key)
        if found is None:
            return False
        if not isinstance(found[0], bool):
            self._error(found[1], Said.of(N_("{key} must be true or false"), key=key))
            return False
        return found[0]

    def mapping(self, key: str) -> Mapping[str, Any]:
        found = self._get(key)
        if found is None or found[0] is None:
            return {}
        if not isinstance(found[0], Mapping):
            self._error(found[1], Said.of(N_("{key} must be a mapping of names to values"), key=key))
            return {}
        return {str(k): v for k, v in found[0].items()}

    def publish_at(self) -> datetime | None:
        found = self._get("publish_at")
        if found is None:
            return None
        try:
            return publish_at(found[0], self.campaign.settings.timezone)
        except ScheduleError as exc:
            self._error(found[1], Said.of(N_("publish_at: {problem}"), problem=exc.said))
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
                self._error(origin, Said.of(N_("{key}: {value} is too long"), key=key, value=value))
                return None
            except ValueError:
                pass
        self._error(origin, Said.of(N_("{key} must be a duration such as '30 minutes', '6 hours' or '1 day'"), key=key))
        return None

    def channels(self) -> tuple[str, ...]:
        found = self._get("channels")
        if found is None:
            self.problems.append(
                error(self.relative, 1, Said.of(N_("no channels: set channels in the post or in posts/_defaults.yml")))
            )
            return ()
        value, origin = found
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._error(origin, Said.of(N_("channels must be a list of channel names from channels.yml")))
            return ()
        known = self.campaign.channels
        if self.campaign.channels_unread is not None:
            return tuple(dict.fromkeys(value))  # checked once channels.yml reads again; its error holds them
        for name in value:
            if name not in known and name not in self.campaign.broken_channels:  # that one: channels.yml's error
                self._error(
                    origin,
                    Said.of(
                        N_("unknown channel {name}{hint} (channels.yml has {names})"),
                        name=repr(name),
                        hint=did_you_mean(name, known),
                        names=", ".join(sorted(known)) or "none",
                    ),
                )
        return tuple(dict.fromkeys(value))

    def _tags(self, value: Any, origin: Origin, what: str) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._error(origin, Said.of(N_("{what} must be a list of hashtags or set names"), what=what))
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
            self._error(origin, Said.of(N_("media must be a list of {path, alt}")))
            return ()
        items = []
        for index, item in enumerate(value):
            line = value.line_of(index) if isinstance(value, yamlfile.LineList) else origin.line
            where = Origin(origin.path, line)
            if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
                self._error(where, Said.of(N_("each media item needs a path (and alt text)")))
                continue
            video = PurePosixPath(item["path"]).suffix.lower() in VIDEO_KINDS
            extra = set(item) - {"path", "alt", *(["captions"] if video else [])}
            if extra:
                expected = "path, alt, captions" if video else "path, alt"
                self._error(
                    where,
                    Said.of(
                        N_("unknown media key(s) {keys}; expected {expected}"),
                        keys=", ".join(sorted(map(str, extra))),
                        expected=expected,
                    ),
                )
            alt = item.get("alt")
            if not isinstance(alt, str) or not alt.strip():
                missing = (
                    N_("{path}: alt text is missing; describe the video for people who cannot see it")
                    if video
                    else N_("{path}: alt text is missing; describe the image for people who cannot see it")
                )
                self._error(where, Said.of(missing, path=item["path"]))
                continue
            captions: tuple[tuple[str, str], ...] = ()
            no_captions = None
            if video:
                found_captions = self._captions(item["path"], item.get("captions"), where)
                if found_captions is None:
                    continue
                captions, no_captions = found_captions
            items.append(MediaRef(item["path"], alt.strip(), line, origin.path, captions, no_captions))
        return tuple(items)

    def _captions(self, video: str, value: Any, where: Origin) -> tuple[tuple[tuple[str, str], ...], str | None] | None:
        """A video's `captions:`: {language: file} or {none: why}; None after an error."""
        example = f"captions: {{nl: {PurePosixPath(video).stem}.nl.vtt}}"
        if value is None:
            self._error(
                where,
                f"{video}: captions are missing; people watch without sound, and some cannot hear it: "
                f"add `{example}` (a .vtt or .srt file per language), "
                'or `captions: {none: "no speech"}` saying why it needs none',
            )
            return None
        if not isinstance(value, Mapping) or not value:
            self._error(where, f"{video}: captions must map a language to a .vtt or .srt file, e.g. `{example}`")
            return None
        if "none" in value:
            reason = value["none"]
            if len(value) > 1 or not isinstance(reason, str) or not reason.strip():
                self._error(where, f'{video}: `captions: {{none: "..."}}` stands alone and says why, e.g. "no speech"')
                return None
            return (), reason.strip()
        found = []
        for language, file in value.items():
            if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
                self._error(where, f"{video}: captions language {language!r} is not a language code (nl, en, pt-BR)")
                return None
            if not isinstance(file, str) or PurePosixPath(file).suffix.lower() not in (".vtt", ".srt"):
                self._error(where, f"{video}: captions for {language} must be a .vtt or .srt file, not {file!r}")
                return None
            found.append((language, file))
        return tuple(found), None

    def overrides(self) -> Mapping[str, Override]:
        found = self._get("overrides")
        if found is None or found[0] is None:
            return {}
        value, origin = found
        if not isinstance(value, Mapping):
            self._error(origin, Said.of(N_("overrides must map a channel name or type to {body, hashtags}")))
            return {}
        names = set(self.campaign.channels) | set(self.campaign.broken_channels)
        names |= {c.type for c in self.campaign.channels.values()}
        result = {}
        for channel, spec in value.items():
            line = value.line_of(channel) if isinstance(value, yamlfile.LineDict) else origin.line
            where = Origin(origin.path, line)
            if channel not in names and self.campaign.channels_unread is None:
                self._error(
                    where,
                    Said.of(
                        N_("overrides: {channel} is neither a channel nor a channel type in channels.yml"),
                        channel=repr(channel),
                    ),
                )
                continue
            if not isinstance(spec, Mapping) or set(spec) - {"body", "hashtags"} or not spec:
                self._error(where, Said.of(N_("overrides.{channel} takes body and/or hashtags"), channel=channel))
                continue
            body = spec.get("body")
            if body is not None and not isinstance(body, str):
                self._error(where, Said.of(N_("overrides.{channel}.body must be text"), channel=channel))
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
            self._error(origin, Said.of(N_("card takes title and description")))
            return None
        return LinkCard(title=_str_or_none(value.get("title")), description=_str_or_none(value.get("description")))

    def link_check(self) -> str:
        found = self._get("link_check")
        if found is None:
            return LINK_CHECKS[0]
        value, origin = found
        if value not in LINK_CHECKS:
            hint = did_you_mean(value, LINK_CHECKS) if isinstance(value, str) else ""
            self._error(
                origin,
                Said.of(N_("unknown link_check {value}{hint} (hold, warn or off)"), value=repr(value), hint=hint),
            )
            return LINK_CHECKS[0]
        return str(value)

    def language(self) -> str | None:
        value = self.text("language")
        if value is None:
            return None
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError):
            found = self._get("language")
            assert found is not None
            self._error(found[1], Said.of(UNKNOWN_LANGUAGE, language=repr(value)))
            return None
        return value


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
