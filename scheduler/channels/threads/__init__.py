"""Threads: posts, images, videos, carousels and threads of replies on one Threads account, through the
Threads API with a long-lived user access token.

Settings: `user_id` (the account's Threads user id, quoted), `token` (a ${SECRET} reference), `media_url`
(where the campaign's media are served publicly: Threads fetches them there), `api` (default
https://graph.threads.net/v1.0; a setting so tests can point it at a local server), `media_timeout`
(seconds one attempt waits while Threads processes a container, default 300).

The parts, each readable on its own:
    api         requests to the Threads API, and the one place where its answers become channel errors
    limits      the account's publishing limits, read before a send
    public      the public URL of a file, and the check that it serves the file's bytes
    containers  the container flow: create, keep in the ledger, wait, publish; settle an interrupted send
    channel     the Channel: settings, limits, token health and refresh
"""

from __future__ import annotations

from scheduler.channels.threads.channel import ThreadsChannel

__all__ = ["ThreadsChannel"]
