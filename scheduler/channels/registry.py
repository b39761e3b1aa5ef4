"""The adapter class of a channel type, loaded through its entry point (scheduler.content.networks)."""

from __future__ import annotations

from scheduler.channels.base import Channel
from scheduler.content import networks
from scheduler.errors import ConfigError


def adapter_class(type_name: str) -> type[Channel]:
    """The adapter class for `type_name`; ConfigError if none is installed or it is not a Channel."""
    cls = networks.load(type_name)
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise ConfigError(f"entry point {networks.adapters()[type_name].value} is not a Channel class")
    return cls
