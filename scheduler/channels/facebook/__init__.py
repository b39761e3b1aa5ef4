"""Facebook Pages: posts on one Page through the Graph API, with a Page access token.

Settings: `page_id` (the Page's numeric id, as a string), `token` (a Page access token, a
${SECRET} reference), `graph` (default https://graph.facebook.com; a setting so tests can point it
at a local server), `version` (default v25.0: pinned, so a new Graph version never changes what
is sent without someone choosing it), `media_timeout` (seconds one attempt waits while Facebook
processes a video, default 300).

Exactly once: Graph has no idempotency key (`idempotent_for = 0`). A send that may have gone out
is settled by `lookup`, which reads the Page's posts since the first attempt for the same message;
not found is InDoubt (a person decides), never "send again".

The parts, each readable on its own:
    graph     requests to Graph, and the one place where its answers become channel errors
    feed      text posts and posts of several photos on the Page's feed; finding a post again
    photos    a post of one photo, and unpublished uploads for the feed to attach
    videos    a video with its captions: uploaded unpublished, processed, captioned, then published
    comments  replies (the comments on a post) and a post's counts
    channel   the Channel: settings, and which part does what
"""

from __future__ import annotations

from scheduler.channels.facebook.channel import FacebookChannel
from scheduler.channels.facebook.comments import UNKNOWN_AUTHOR

__all__ = ["UNKNOWN_AUTHOR", "FacebookChannel"]
