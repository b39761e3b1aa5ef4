"""The campaign as configured: its settings, channels and hashtags, read from the campaign root.

<root>/posts/_defaults.yml   campaign settings (timezone, language, campaign) + post defaults
<root>/channels.yml          named channels: {type, settings...}; secrets only as ${NAME}
<root>/hashtags.yml          see scheduler.content.hashtags
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError

from scheduler.content import hashtags as hashtags_file
from scheduler.content import networks, watchlist, yamlfile
from scheduler.content import utm as utm_setting
from scheduler.content.files import read_yaml_mapping
from scheduler.content.problems import Problem, did_you_mean, error
from scheduler.content.utm import Utm
from scheduler.errors import ConfigError
from scheduler.media import public
from scheduler.posts import Limits
from scheduler.secrets import looks_like_literal_secret
from scheduler.words import N_, Said

CHANNELS_FILE = "channels.yml"
DEFAULTS_FILE = "_defaults.yml"
POSTS_DIR = "posts"
DEFAULT_TIMEZONE = "Europe/Amsterdam"
DEFAULT_LANGUAGE = "nl"
NOT_A_CAMPAIGN = Said.of(
    N_(
        "there is no channels.yml, so this folder is not a campaign: run the command in the campaign's folder "
        "(or give --root DIR), or start one with `campaign new DIR`"
    )
)
UNKNOWN_LANGUAGE = N_("unknown language {language} (use a code such as nl or en)")
_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0 (tab too), DEL, C1, line and paragraph separators


@dataclass(frozen=True)
class ChannelConfig:
    """One named channel from channels.yml; `settings` still hold ${SECRET} references."""

    name: str
    type: str
    settings: Mapping[str, Any]
    limits: Limits


@dataclass(frozen=True)
class Settings:
    name: str
    timezone: ZoneInfo
    language: str


@dataclass(frozen=True)
class Campaign:
    root: Path
    settings: Settings
    channels: Mapping[str, ChannelConfig]
    hashtags: hashtags_file.Hashtags
    root_defaults: yamlfile.LineDict = field(default_factory=yamlfile.LineDict)
    alerts: Mapping[str, Any] = field(default_factory=dict)
    root_defaults_broken: Problem | None = None  # posts/_defaults.yml could not be read at all
    # Entries of channels.yml that name a channel but cannot be used, with why: posts may still
    # name them (their sends are held, never cancelled, until the entry is fixed).
    broken_channels: Mapping[str, Problem] = field(default_factory=dict)
    # Channels that plan and preview like any other but that no installed adapter can publish:
    # their sends are held too, with the problem as the reason.
    unpublishable: Mapping[str, Problem] = field(default_factory=dict)
    # channels.yml as a whole could not be read (or names no channels): posts are not checked against it,
    # and every send is held by this one problem.
    channels_unread: Problem | None = None
    utm: Utm | None = None  # `utm:` in posts/_defaults.yml: the campaign's links tagged per network
    #: `media_url:` in channels.yml, ending in /: where the exported media are served (scheduler.media.public).
    media_url: str | None = None


def find_root(given: str | Path | None) -> Path:
    """--root, else $CAMPAIGN_ROOT, else the current directory."""
    root = Path(given or os.environ.get("CAMPAIGN_ROOT") or ".").resolve()
    if not root.is_dir():
        raise ConfigError(f"campaign root {root} is not a folder")
    return root


def load(root: Path) -> tuple[Campaign, list[Problem]]:
    """Everything but the posts; problems instead of exceptions."""
    defaults_path = f"{POSTS_DIR}/{DEFAULTS_FILE}"
    defaults, problems = read_yaml_mapping(root, defaults_path)
    root_broken = next((p for p in problems if p.is_error), None)
    settings = _settings(defaults, defaults_path, root, problems)
    hashtags, tag_problems = hashtags_file.load(root)
    problems += tag_problems
    channels_data, channel_problems = read_yaml_mapping(root, CHANNELS_FILE)
    if not channel_problems and not (root / CHANNELS_FILE).is_file():
        channel_problems = [error(CHANNELS_FILE, 0, NOT_A_CAMPAIGN)]
    problems += channel_problems
    watch, watch_problems = watchlist.load(root)  # checked here so validate and preview list it; the collector reads it
    problems += watch_problems
    broken: dict[str, Problem] = {}
    unpublishable: dict[str, Problem] = {}
    # A channels.yml that does not read is one problem on its own line, not one more per post naming a channel.
    unread = next((p for p in channel_problems if p.is_error), None)
    channels = {} if unread else _channels(channels_data, problems, broken, unpublishable)
    if not channels and unread is None and not broken and not unpublishable:
        unread = next((p for p in problems if p.path == CHANNELS_FILE and p.is_error), None)
    if any(networks.reads_replies(c.type) for c in channels.values()):  # else no reply is read: nothing to watch
        gap = watchlist.unguarded(root, watch)
        problems += [gap] if gap is not None else []
    media_url = _media_url(channels_data, problems)
    alerts = channels_data.get("alerts") or {}
    if not isinstance(alerts, Mapping):
        problems.append(error(CHANNELS_FILE, channels_data.line_of("alerts"), Said.of(N_("alerts must be a mapping"))))
        alerts = {}
    campaign = Campaign(
        root,
        settings,
        channels,
        hashtags,
        defaults,
        alerts,
        broken_channels=broken,
        unpublishable=unpublishable,
        root_defaults_broken=root_broken,
        channels_unread=unread,
        utm=utm_setting.read(defaults.get("utm"), defaults_path, defaults.line_of("utm"), problems),
        media_url=media_url,
    )
    return campaign, problems


def _media_url(data: yamlfile.LineDict, problems: list[Problem]) -> str | None:
    """`media_url:` (an http(s) address, ending in /), or None: not set, or not an address (said)."""
    value = data.get("media_url")
    if value is None:
        return None
    base = public.checked_base(value)
    if base is None:
        problems.append(
            error(
                CHANNELS_FILE,
                data.line_of("media_url"),
                Said.of(
                    N_("media_url must be the https:// address where the campaign's media are served, not {value}"),
                    value=repr(value),
                ),
            )
        )
    return base


def _settings(data: yamlfile.LineDict, path: str, root: Path, problems: list[Problem]) -> Settings:
    zone_name = data.get("timezone", DEFAULT_TIMEZONE)
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: `Europe` is a folder, a name too long
        problems.append(
            error(
                path,
                data.line_of("timezone"),
                Said.of(
                    N_("unknown time zone {zone}{hint} (an IANA name such as Europe/Amsterdam)"),
                    zone=repr(zone_name),
                    hint=did_you_mean(str(zone_name), available_timezones(), 0.8),
                ),
            )
        )
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    language = data.get("language", DEFAULT_LANGUAGE)
    try:
        Locale.parse(str(language))
    except (UnknownLocaleError, ValueError):
        problems.append(error(path, data.line_of("language"), Said.of(UNKNOWN_LANGUAGE, language=repr(language))))
        language = DEFAULT_LANGUAGE
    name = str(data.get("campaign", root.name))
    if _CONTROL.search(name):  # it heads calendars, reports and pages: one line, nothing a reader obeys
        problems.append(
            error(
                path,
                data.line_of("campaign"),
                Said.of(
                    N_("the campaign name {name} has a line break or another control character; write it on one line"),
                    name=repr(name),
                ),
            )
        )
        name = " ".join(_CONTROL.sub(" ", name).split())
    return Settings(name=name, timezone=zone, language=str(language))


def _channels(
    data: yamlfile.LineDict,
    problems: list[Problem],
    broken: dict[str, Problem],
    unpublishable: dict[str, Problem],
) -> dict[str, ChannelConfig]:
    for key in data:
        if key not in ("channels", "alerts", "media_url"):
            problems.append(
                error(
                    CHANNELS_FILE,
                    data.line_of(key),
                    Said.of(N_("unknown key {key}; expected channels, alerts, media_url"), key=repr(key)),
                )
            )
    raw = data.get("channels") or {}
    if not isinstance(raw, yamlfile.LineDict):
        problems.append(
            error(CHANNELS_FILE, data.line_of("channels"), Said.of(N_("channels must map a name to its settings")))
        )
        return {}
    channels = {}
    for name, settings in raw.items():
        line = raw.line_of(name)
        if not isinstance(name, str) or not _CHANNEL_NAME.match(name):
            problems.append(
                error(
                    CHANNELS_FILE,
                    line,
                    Said.of(N_("channel name {name} must be lower case letters, digits, - or _"), name=repr(name)),
                )
            )
            continue
        if not isinstance(settings, yamlfile.LineDict) or not isinstance(settings.get("type"), str):
            problems.append(
                error(CHANNELS_FILE, line, Said.of(N_("channel {name} needs a mapping with a type"), name=repr(name)))
            )
            broken[name] = problems[-1]
            continue
        bad = [key for key, value in settings.items() if looks_like_literal_secret(str(key), value)]
        for key in bad:
            problems.append(
                error(
                    CHANNELS_FILE,
                    settings.line_of(key),
                    Said.of(
                        N_(
                            "{name}.{key} looks like a secret written out: use a reference such as {reference} "
                            "and set it in the environment"
                        ),
                        name=name,
                        key=key,
                        reference=f"${{{name.upper().replace('-', '_')}_{str(key).upper()}}}",
                    ),
                )
            )
        if bad:
            broken[name] = problems[-1]
            continue
        clean = {str(k): v for k, v in settings.items() if k != "type"}
        try:
            limits = networks.limits_for(settings["type"], clean)
        except ConfigError as exc:  # on the line of the setting it is about (a dry run's `like:`), else of `type:`
            where = exc.key if exc.key in settings else "type"
            problems.append(error(CHANNELS_FILE, settings.line_of(where), exc.said or str(exc)))
            broken[name] = problems[-1]
            continue
        if settings["type"] not in networks.publishing_types():
            problems.append(
                error(
                    CHANNELS_FILE,
                    settings.line_of("type"),
                    Said.of(
                        N_(
                            "channel {name} has type {type}, which no installed adapter can publish; "
                            "types that can publish: {types}"
                        ),
                        name=repr(name),
                        type=repr(settings["type"]),
                        types=", ".join(sorted(networks.publishing_types())) or "none",
                    ),
                )
            )
            unpublishable[name] = problems[-1]
        channels[name] = ChannelConfig(name, settings["type"], clean, limits)
    return channels
