"""Threads: posts, images, videos, carousels and threads of replies on one Threads account, through the
Threads API with a long-lived user access token, on the shared Meta core (scheduler.channels.meta).

Settings: `user_id` (the account's Threads user id, quoted), `token` (a ${SECRET} reference), `api` (default
https://graph.threads.net/v1.0; a setting so tests can point it at a local server), `media_timeout`
(seconds one attempt waits while Threads processes a container, default 300); `media_url` comes from
channels.yml's top level (where the campaign's exported media are served, scheduler.media.public).

The parts, each readable on its own:
    channel     the Channel: settings, limits, the container of a post (meta.containers), token health and refresh
    found       the post a published container became, found among the account's posts by its text
"""

from __future__ import annotations

from scheduler.channels.threads.channel import ThreadsChannel

__all__ = ["ThreadsChannel"]
