"""The adapter instances a publisher sends through, by channel name (scheduler.channels makes them)."""

from __future__ import annotations

import inspect
import threading
from dataclasses import replace
from pathlib import Path

from scheduler import secrets
from scheduler.channels.base import Channel, PauseWatch, UploadMemory
from scheduler.channels.registry import adapter_class
from scheduler.content.campaign import Campaign
from scheduler.errors import CampaignError
from scheduler.publish.clock import Clock, stamp


class Channels:
    """Adapter instances by channel name, made on first use (secrets resolved then, not before)."""

    def __init__(self, campaign: Campaign, dry_run_dir: Path | None = None, clock: Clock | None = None) -> None:
        self.campaign = campaign
        self.dry_run_dir = dry_run_dir  # every channel replaced by dry-run, writing here
        self.clock = clock  # handed to adapters that take a `clock` (the Publisher sets its own)
        self.uploads: UploadMemory | None = None  # the ledger's memory of uploads (the Publisher sets it)
        self.pauses: PauseWatch | None = None  # the ledger's pauses, asked again by a send in steps (the Publisher)
        self._made: dict[str, Channel] = {}
        self._lock = threading.Lock()

    def update(self, campaign: Campaign) -> None:
        """Take a newly read channels.yml; adapters whose settings changed are made again.

        A channel whose entry is now broken (or every channel, while channels.yml does not read) keeps
        its last good settings: its sends are held, but one left mid-send can still be settled through it."""
        with self._lock:
            kept = {
                name: config
                for name, config in self.campaign.channels.items()
                if (name in campaign.broken_channels or campaign.channels_unread is not None)
                and name not in campaign.channels
            }
            if kept:
                campaign = replace(campaign, channels={**campaign.channels, **kept})
            moved = campaign.media_url != self.campaign.media_url  # adapters that fetch media are given it
            for name, channel in list(self._made.items()):
                old, new = self.campaign.channels.get(name), campaign.channels.get(name)
                if (
                    new is None
                    or old is None
                    or (old.type, old.settings) != (new.type, new.settings)
                    or (moved and new.limits.public_media)
                ):
                    channel.close()
                    del self._made[name]
            self.campaign = campaign

    def get(self, name: str) -> Channel:
        with self._lock:
            if name not in self._made:
                self._made[name] = self._make(name)
            return self._made[name]

    def forget(self, name: str) -> None:
        """Close the adapter of `name`: the next `get` makes it again, its secrets read anew (a refreshed token)."""
        with self._lock:
            made = self._made.pop(name, None)
        if made is not None:
            made.close()

    def _make(self, name: str) -> Channel:
        from scheduler.channels.dryrun import DryRunChannel

        config = self.campaign.channels.get(name)
        if config is None:
            raise CampaignError(f"channel {name!r} is no longer in channels.yml")
        if self.dry_run_dir is not None:
            # A rehearsal publishes every channel to one outbox; the rules were checked when planning.
            return self._new(DryRunChannel, name, {"outbox": str(self.dry_run_dir / "outbox.jsonl")})
        cls = adapter_class(config.type)
        resolved = dict(secrets.resolve(dict(config.settings)))
        if config.limits.public_media and self.campaign.media_url is not None:
            resolved.setdefault("media_url", self.campaign.media_url)  # channels.yml's, for the network to fetch
        if config.type == "dryrun":
            outbox = Path(resolved.get("outbox") or "dryrun-outbox.jsonl")
            resolved["outbox"] = str(outbox if outbox.is_absolute() else self.campaign.root / outbox)
        return self._new(cls, name, resolved)

    def _new(self, cls: type[Channel], name: str, settings: dict[str, object]) -> Channel:
        """`cls(name, settings)`, and the publisher's clock for an adapter that stamps times itself
        (one whose constructor takes `clock`, a callable giving now)."""
        given = self.clock
        if given is not None and "clock" in inspect.signature(cls).parameters:
            made = cls(name, settings, clock=lambda: stamp(given))  # type: ignore[call-arg]
        else:
            made = cls(name, settings)
        made.uploads = self.uploads
        made.pauses = self.pauses
        return made

    def close(self) -> None:
        for channel in self._made.values():
            channel.close()
