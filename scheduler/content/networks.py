"""Which channel types exist, which can publish, and each one's offline limits.

A type that can publish has an adapter: a class registered under the type's name in the
`campaign_scheduler.channels` entry-point group (pyproject.toml). The adapter owns its rules
(`Channel.limits`); this module finds adapters only through their entry points, so the files → plan
half imports none of them. Networks without an adapter keep their rules in the one table below,
so drafts can still be checked for them (a dry-run channel may be `like:` one); a channel whose
`type:` is one of them cannot publish, which validate reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from scheduler.content.problems import did_you_mean
from scheduler.content.text import graphemes
from scheduler.errors import ConfigError
from scheduler.posts import LengthRule, Limits, MediaRules
from scheduler.words import N_, Said

GROUP = "campaign_scheduler.channels"

#: Networks without an adapter. When one gets an adapter, its entry here goes (the adapter's `limits` rule).
WITHOUT_ADAPTER: Mapping[str, Limits] = {
    # TikTok (Content Posting API): a caption of 2,200 characters, a photo post of up to 35 images.
    "tiktok": Limits(LengthRule("characters", 2200, graphemes), MediaRules(max_items=35, max_bytes=20_000_000)),
}


class UnknownType(ConfigError):
    """No adapter and no entry in the table of networks without one has this type."""


@cache
def adapters() -> Mapping[str, EntryPoint]:
    """Type name → entry point of its adapter, not yet loaded (so `--help` stays fast)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def publishing_types() -> frozenset[str]:
    """Channel types an installed adapter can publish."""
    return frozenset(adapters())


def known_types() -> list[str]:
    """Every channel type whose rules are known: those with an adapter and those without."""
    return sorted(publishing_types() | set(WITHOUT_ADAPTER))


def load(type_name: str) -> Any:
    """The adapter class registered for `type_name` (its module imported now); ConfigError if none is installed."""
    entry = adapters().get(type_name)
    if entry is None:
        raise ConfigError(
            Said.of(
                N_("no adapter is installed for channel type {type} (installed: {installed})"),
                type=repr(type_name),
                installed=", ".join(sorted(adapters())) or "none",
            )
        )
    try:
        return entry.load()
    except Exception as exc:  # a broken plug-in: any error of its import is the plug-in's, told as one
        raise ConfigError(
            f"the adapter of channel type {type_name!r} cannot be loaded ({entry.value}: "
            f"{exc.__class__.__name__}); reinstall or fix the package that provides it"
        ) from None


def limits_for(type_name: str, settings: Mapping[str, Any]) -> Limits:
    """Offline limits of a channel of `type_name` with `settings`: its adapter's, or the table's."""
    if type_name in adapters():
        adapter = load(type_name)
        limits = adapter.limits(settings) if callable(getattr(adapter, "limits", None)) else None
        if not isinstance(limits, Limits):
            raise ConfigError(
                Said.of(
                    N_("the adapter of channel type {type} ({adapter}) has no limits"),
                    type=repr(type_name),
                    adapter=adapters()[type_name].value,
                )
            )
        return limits if limits.network else replace(limits, network=type_name)
    if type_name in WITHOUT_ADAPTER:
        return replace(WITHOUT_ADAPTER[type_name], network=type_name)
    known = known_types()
    raise UnknownType(
        Said.of(
            N_("unknown channel type {type}{hint} (known: {known})"),
            type=repr(type_name),
            hint=did_you_mean(type_name, known),
            known=", ".join(known),
        )
    )


def reads_replies(type_name: str) -> bool:
    """Whether the adapter of `type_name` reads the replies to a published post (`has_replies`)."""
    return type_name in adapters() and getattr(load(type_name), "has_replies", False) is True
