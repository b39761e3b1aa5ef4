"""Small campaigns written to a temporary folder, for tests."""

from __future__ import annotations

import os
import subprocess
import sys
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


def run_campaign(root: Path, *args: str, tz: str | None = None, **settings: str) -> subprocess.CompletedProcess[str]:
    """`campaign --root ROOT ARGS` as its own process, as a user runs it (CAMPAIGN_ROOT and
    DATABASE_URL unset); `settings`: more environment variables, such as CAMPAIGN_NOW."""
    env = {key: value for key, value in os.environ.items() if key not in ("CAMPAIGN_ROOT", "DATABASE_URL")}
    env.update(settings)
    if tz:
        env["TZ"] = tz
    return subprocess.run(
        [sys.executable, "-m", "scheduler", "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
