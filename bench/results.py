"""Benchmark of collecting results: 10,000 published sends (half on the fake Mastodon, half on the
fake Bluesky PDS, in this process), SQLite ledger. It prints figures, never asserts.

    python bench/results.py [--sends 10000] [--keep]

collect     `campaign collect --once` on the 10,000 sends, all 2 hours old (the 1-hour counts due,
            replies due): requests made per endpoint, seconds, snapshots taken; then a second
            `collect --once` right after (goal: no count read again).
lateness    `campaign run` with a dry-run channel that has a post due every 0.2 s for 30 s, while
            its collector works through the same 10,000 sends (CAMPAIGN_COLLECT_EVERY=1 second):
            sent - due p50/p99/max (goal p99 < 0.5 s), against the same daemon with nothing to
            collect (the baseline, in the same run), and how many snapshots were taken meanwhile.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` and `tests` live in the repo

from bench.daemon import Children, at, load, outbox, running, spread, wait_until, workdir
from scheduler.publish.ledger import Ledger, database_url, deliveries
from scheduler.publish.states import State
from tests.fakes.bluesky_server import FakePDS
from tests.fakes.mastodon_server import TOKEN, FakeMastodon

PASSWORD = "app-pass-1234"
SECRETS = {"MASTODON_TOKEN": TOKEN, "SKY_PASSWORD": PASSWORD}


def seed(root: Path, masto: FakeMastodon, sky: FakePDS, sends: int, due: dict[str, datetime]) -> None:
    """A campaign whose ledger has `sends` published sends, 2 hours old, and `due` posts still to send."""
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(
        "channels:\n"
        "  due: {type: dryrun, like: mastodon}\n"
        f"  masto: {{type: mastodon, instance: '{masto.url}', token: '${{MASTODON_TOKEN}}'}}\n"
        f"  sky: {{type: bluesky, pds: '{sky.url}', handle: campagne.test, app_password: '${{SKY_PASSWORD}}'}}\n",
        encoding="utf-8",
    )
    (root / "posts" / "_defaults.yml").write_text(
        "campaign: Bench\ntimezone: Europe/Amsterdam\nchannels: [due]\n", encoding="utf-8"
    )
    for number, (name, when) in enumerate(due.items()):
        (root / "posts" / f"{name}.md").write_text(
            f"---\npublish_at: {at(when)}\n---\nBericht {number}: praat erover.\n", encoding="utf-8"
        )
    ledger = Ledger(database_url(None, root))
    ledger.upgrade()
    published = datetime.now(UTC) - timedelta(hours=2)
    rows = []
    for i in range(sends):
        channel = "masto" if i % 2 == 0 else "sky"
        text = f"Verstuurd bericht {i} #WeekTegenKindermishandeling"
        remote = masto.seed_status(text) if channel == "masto" else sky.seed_post(text)
        rows.append(
            {
                "post": f"oud/{i:05d}",
                "channel": channel,
                "path": f"posts/oud/{i:05d}.md",
                "due": published,
                "max_late_s": 3600,
                "version": "v1",
                "key": f"k{i}",
                "text_hash": f"h{i}",
                "allow_repeat": False,
                "payload": f'{{"text": "{text}", "media": [], "language": "nl", "card": null, "title": null}}',
                "state": State.PUBLISHED.value,
                "attempts": 1,
                "receipt_url": f"https://example.invalid/{i}",
                "remote_id": remote,
                "published_at": published,
                "published_version": "v1",
                "updated_at": published,
            }
        )
    with ledger.engine.begin() as conn:
        conn.execute(deliveries.insert(), rows)
    ledger.close()


def reads(masto: FakeMastodon, sky: FakePDS) -> Counter[str]:
    counted: Counter[str] = Counter()
    for r in list(masto.requests):
        if r.method == "GET" and r.path.startswith("/api/v1/statuses/"):
            counted["mastodon context" if r.path.endswith("/context") else "mastodon status"] += 1
        elif r.method == "GET":
            counted[f"mastodon {r.path}"] += 1
    for call in list(sky.calls):
        counted[f"bluesky {call.nsid}"] += 1
    return counted


def campaign(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_") and k != "DATABASE_URL"}
    env.update(CAMPAIGN_ROOT=str(root), **SECRETS)
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args], env=env, capture_output=True, text=True, check=False
    )


def snapshots(root: Path) -> int:
    ledger = Ledger(database_url(None, root))
    try:
        return len(ledger.results.snapshots())
    finally:
        ledger.close()


def collect(keep: bool, sends: int) -> None:
    print(f"collect: {sends:,} published sends (half Mastodon, half Bluesky), 2 hours old, SQLite")
    with workdir("results-collect", keep) as root, FakeMastodon() as masto, FakePDS(password=PASSWORD) as sky:
        seed(root, masto, sky, sends, {})
        for round_ in ("first", "second"):
            before = reads(masto, sky)
            started = time.perf_counter()
            done = campaign(root, "collect", "--once")
            took = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-2000:])
            made = reads(masto, sky) - before
            total = sum(made.values())
            print(f"  {round_} collect --once: {took:.1f} s, {total:,} requests, {snapshots(root):,} snapshots")
            for what, n in sorted(made.items()):
                print(f"    {what:<40} {n:>7,}")
        print(f"  {load()}")


def lateness(keep: bool, sends: int, posts: int = 150, over: float = 30.0, lead: float = 8.0) -> None:
    print(f"lateness: {posts} posts due over {over:g} s on a dry-run channel while collecting {sends:,} sends")
    for label, env in (
        ("baseline, nothing to collect", {"CAMPAIGN_RESULT_AGES": "3650 days", "CAMPAIGN_REPLIES_FOR": "0"}),
        ("collecting", {}),
    ):
        with (
            workdir("results-lateness", keep) as root,
            FakeMastodon() as masto,
            FakePDS(password=PASSWORD) as sky,
            Children() as children,
        ):
            first = datetime.now(UTC) + timedelta(seconds=lead + sends / 2000)
            due = {f"p{i:03d}": first + timedelta(seconds=over * i / posts) for i in range(posts)}
            seed(root, masto, sky, sends, due)
            log = root / "daemon.log"
            process = children.daemon(root, log=log, CAMPAIGN_COLLECT_EVERY="1 second", **SECRETS, **env)
            wait_until(running(process, log), 120, "the daemon to start")
            wait_until(lambda: len(outbox(root)) >= posts, lead + over + 180, f"{posts} posts in the outbox", 0.5)
            taken = snapshots(root)
            children.stop(process)
            sent = outbox(root)
            late = [
                (datetime.fromisoformat(r["published_at"]) - due[r["post"]]) / timedelta(milliseconds=1) for r in sent
            ]
            made = reads(masto, sky)
            print(f"  {label}: sent - due {spread(late)}")
            print(f"    snapshots taken while the posts went out: {taken:,}; requests {sum(made.values()):,}")
    print(f"  {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=("collect", "lateness", "all"), default="all")
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.what in ("collect", "all"):
        collect(args.keep, args.sends)
    if args.what in ("lateness", "all"):
        lateness(args.keep, args.sends)


if __name__ == "__main__":
    main()
