"""Small campaigns written to a temporary folder, for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

CHANNELS = """\
channels:
  mastodon: {type: dryrun, like: mastodon}
  bluesky: {type: dryrun, like: bluesky}
"""
DEFAULTS = """\
campaign: Test
timezone: Europe/Amsterdam
language: nl
channels: [mastodon]
"""


def write_campaign(
    root: Path,
    posts: dict[str, str],
    *,
    channels: str = CHANNELS,
    hashtags: str | None = None,
    defaults: str = DEFAULTS,
) -> Path:
    """Write a campaign: `posts` maps paths under posts/ to file text (dedented)."""
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(channels, encoding="utf-8")
    (root / "posts" / "_defaults.yml").write_text(defaults, encoding="utf-8")
    if hashtags is not None:
        (root / "hashtags.yml").write_text(textwrap.dedent(hashtags), encoding="utf-8")
    for relative, text in posts.items():
        path = root / "posts" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def post(body: str = "Hallo wereld.", **front: str) -> str:
    """A post file with the given front matter values (written as YAML as is)."""
    lines = ["---", *(f"{key}: {value}" for key, value in front.items()), "---", body, ""]
    return "\n".join(lines)
