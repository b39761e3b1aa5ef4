"""Finding adapter classes by channel type, through the `campaign_scheduler.channels` entry points."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from scheduler.channels.base import Channel, Limits, MediaRules
from scheduler.content.text import rule_for
from scheduler.errors import ConfigError

GROUP = "campaign_scheduler.channels"

#: Media rules of networks that have no adapter yet, so validate can still check drafts for them.
_KNOWN_MEDIA = {
    "mastodon": MediaRules(max_items=4, max_bytes=16_000_000),
    "bluesky": MediaRules(max_items=4, max_bytes=1_000_000),
    "telegram": MediaRules(max_items=1, max_bytes=10_000_000),
    "x": MediaRules(max_items=4, max_bytes=5_000_000),
    "linkedin": MediaRules(max_items=9, max_bytes=8_000_000),
    "facebook": MediaRules(max_items=10, max_bytes=10_000_000),
}


@cache
def adapters() -> dict[str, Any]:
    """Type name → entry point (not yet loaded, so `--help` stays fast)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def known_types() -> list[str]:
    return sorted(set(adapters()) | set(_KNOWN_MEDIA))


def adapter_class(type_name: str) -> type[Channel]:
    """The adapter class for `type_name`; ConfigError if none is installed."""
    entry = adapters().get(type_name)
    if entry is None:
        raise ConfigError(
            f"no adapter is installed for channel type {type_name!r} "
            f"(installed: {', '.join(sorted(adapters())) or 'none'})"
        )
    cls = entry.load()
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise ConfigError(f"entry point {entry.value} is not a Channel class")
    return cls


def limits_for(type_name: str, settings: Mapping[str, Any]) -> Limits:
    """Offline limits of a channel type, also for known networks without an adapter."""
    if type_name in adapters():
        return adapter_class(type_name).limits(settings)
    rule = rule_for(type_name, settings)
    if rule is None:
        raise ConfigError(f"unknown channel type {type_name!r}; known: {', '.join(known_types())}")
    return Limits(length=rule, media=_KNOWN_MEDIA.get(type_name, MediaRules()))
