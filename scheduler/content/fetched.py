"""The rules of networks that take no text-only post, count hashtags, or fetch a post's media from the
campaign's public address (Instagram, Threads): checked offline, so `validate` names the file."""

from __future__ import annotations

from scheduler.content.campaign import CHANNELS_FILE
from scheduler.content.drafts import Draft
from scheduler.content.hashtags import tags_in
from scheduler.content.problems import Problem, error
from scheduler.posts import Limits
from scheduler.words import N_, Said


def media_and_tags(
    draft: Draft, channel: str, limits: Limits, text: str, media_url: str | None, where: tuple[str, int]
) -> list[Problem]:
    """A post without media where the network needs some; more hashtags than it takes; media it must fetch
    while the campaign has no `media_url`."""
    network = limits.network.capitalize() if limits.network else channel  # as people write it: Instagram, Threads
    found = []
    if limits.needs_media and not draft.media:
        found.append(
            error(
                where[0],
                where[1],
                Said.of(
                    N_("{channel}: {network} takes no post without an image or a video; add one under `media:`"),
                    channel=channel,
                    network=network,
                ),
            )
        )
    if limits.max_hashtags is not None and (count := len(tags_in(text))) > limits.max_hashtags:
        found.append(
            error(
                where[0],
                where[1],
                Said.of(
                    N_("{channel}: {n} hashtags, {network} takes at most {most}"),
                    channel=channel,
                    n=count,
                    network=network,
                    most=limits.max_hashtags,
                ),
            )
        )
    if limits.public_media and draft.media and media_url is None:
        path, line = draft.line_of("media")
        found.append(
            error(
                path,
                line,
                Said.of(
                    N_(
                        "{channel}: {network} fetches a post's media from the campaign's public address: set "
                        "media_url in {file} (docs/writing-posts.md)"
                    ),
                    channel=channel,
                    network=network,
                    file=CHANNELS_FILE,
                ),
            )
        )
    return found
