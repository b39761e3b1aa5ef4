"""Campaigns with posts due around now, and the `campaign` command run as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler.publish.ledger import Ledger, database_url
from tests.fakes.webhook_server import FakeWebhook

CHANNELS = "channels:\n  mastodon: {type: dryrun, like: mastodon}\n  bluesky: {type: dryrun, like: bluesky}\n"


def at(moment: datetime) -> str:
    """A publish_at value with an explicit offset (so it never falls in a DST gap)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def write(
    root: Path,
    posts: dict[str, tuple[datetime, str]],
    *,
    channels: str = CHANNELS,
    default_channels: str = "[mastodon]",
    extra_defaults: str = "",
) -> Path:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(channels, encoding="utf-8")
    (root / "posts" / "_defaults.yml").write_text(
        f"campaign: Test\ntimezone: Europe/Amsterdam\nchannels: {default_channels}\n{extra_defaults}", encoding="utf-8"
    )
    for name, (when, text) in posts.items():
        path = root / "posts" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\npublish_at: {at(when)}\n---\n{text}\n", encoding="utf-8")
    return root


def env_for(root: Path, db: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_") and k != "DATABASE_URL"}
    env.update(
        CAMPAIGN_ROOT=str(root),
        DATABASE_URL=db or f"sqlite:///{root / 'campaign.db'}",
        CAMPAIGN_RETRY_BASE="1",
        **extra,
    )
    return env


def campaign(
    root: Path, *args: str, db: str | None = None, timeout: float = 120, env: dict[str, str] | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        env=env_for(root, db, **(env or {}), **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def daemon(root: Path, *args: str, db: str | None = None, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run", *args],
        env=env_for(root, db, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outbox(root: Path) -> list[dict[str, Any]]:
    path = root / "dryrun-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ledger(root: Path, db: str | None = None) -> Ledger:
    return Ledger(database_url(db, root))


def states(root: Path, db: str | None = None) -> dict[tuple[str, str], str]:
    book = ledger(root, db)
    try:
        return {(r.post, r.channel): r.state for r in book.views.rows()}
    finally:
        book.close()


def wait_for(condition: Callable[[], bool], timeout: float = 30, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def now() -> datetime:
    return datetime.now(UTC)


def soon(seconds: float) -> datetime:
    return now() + timedelta(seconds=seconds)


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM the daemon, which must exit cleanly (0); its standard error."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    return err


def kinds(hook: FakeWebhook, kind: str) -> list[str]:
    """The messages of the alerts of `kind` that the alert webhook received."""
    return [r.json()["message"] for r in hook.posted if r.json()["kind"] == kind]


PASSWORDS = {"anna": "anna heeft een lang wachtwoord", "vera": "vera heeft een lang wachtwoord"}


def add_users(env: dict[str, str]) -> None:
    """The dashboard's accounts, through `campaign users add`: anna an operator, vera a viewer."""
    for name, role in (("anna", "operator"), ("vera", "viewer")):
        added = subprocess.run(
            [sys.executable, "-m", "scheduler", "users", "add", name, "--role", role, "--password-stdin"],
            input=PASSWORDS[name] + "\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert added.returncode == 0, added.stderr
