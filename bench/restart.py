"""A restart while a post is due, on a big campaign: how long until that post is sent, against
`campaign validate` of the same campaign in the same run; and the first sync of a new ledger.

    .venv/bin/python bench/restart.py [--posts 10000] [--repeat 2] [--keep]

1. Generates bench/synthetic.py's campaign (moved ahead so that nothing of it is due) plus one post
   due a minute ago, in a folder of its own.
2. `campaign validate`, best of --repeat: the baseline (it plans every file, as a daemon's start does).
3. A new SQLite ledger, every send paused (`campaign pause`: the due post stays pending, as if the
   daemon had stopped just before its time), then `campaign run --once`: the first sync of a new
   ledger, timed (goal <= 2x validate).
4. `campaign resume`, then the real daemon (`campaign run`, dry-run channels): seconds from its
   launch until the ledger records the due post as published (goal <= 0.1x validate). Then the daemon
   is stopped, and steps 3-4 are repeated --repeat times on a fresh ledger.

Prints the figures, their ratios and the load average; asserts nothing about time. Every child is
stopped on the way out; every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` lives in the repo

from bench.daemon import Children, future_campaign, load, tail, wait_until, workdir

REPO = Path(__file__).resolve().parents[1]
DUE = "due/nu"


def campaign(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`campaign ARGS` as a user runs it (from the repository, so a copy of older code measures itself)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_") and k != "DATABASE_URL"}
    env["CAMPAIGN_ROOT"] = str(root)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    return time.perf_counter() - started, result


def checked(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> float:
    seconds, result = campaign(root, *args)
    if result.returncode not in ok:
        raise SystemExit(f"campaign {' '.join(args)} exited {result.returncode}: {result.stderr[-3000:]}")
    return seconds


def state_of(db: Path, post: str) -> str | None:
    if not db.exists():
        return None
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT state FROM deliveries WHERE post = ? LIMIT 1", (post,)).fetchone()
    return None if row is None else str(row[0])


def one_restart(root: Path, children: Children, number: int) -> tuple[float, float, str]:
    """(first sync seconds, launch → due post published seconds, the daemon's log lines about it)."""
    db = root / "campaign.db"
    for leftover in (db, root / "campaign.db-wal", root / "campaign.db-shm", root / "dryrun-outbox.jsonl"):
        leftover.unlink(missing_ok=True)
    checked(root, "pause", "--reason", "benchmark: the daemon is down")
    first_sync = checked(root, "run", "--once", ok=(0, 1))
    if state_of(db, DUE) != "pending":
        raise SystemExit(f"the due post should be pending after the paused sync, not {state_of(db, DUE)}")
    checked(root, "resume")
    log = root / f"daemon-{number}.log"
    launched = time.monotonic()
    process = children.daemon(root, log=log)

    def sent() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode}:\n{tail(log)}")
        return state_of(db, DUE) == "published"

    wait_until(sent, 600, "the due post to be published", every=0.01)
    to_send = time.monotonic() - launched
    wait_until(lambda: b" running as " in log.read_bytes(), 600, "the daemon's first plan", every=0.2)
    children.stop(process)
    lines = [
        line
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if "start:" in line or f"published {DUE}" in line or "sends planned" in line
    ]
    return first_sync, to_send, "\n".join(f"    {line}" for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the campaign, ledger and daemon logs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, code in {REPO}")
    print(f"before: {load()} ({Path('/proc/loadavg').read_text().strip()})")
    with workdir("restart", args.keep) as root, Children() as children:
        future_campaign(root, args.posts)
        due = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        (root / "posts" / "due").mkdir()
        (root / "posts" / "due" / "nu.md").write_text(f"---\npublish_at: {due}\n---\nNu, na de herstart.\n")
        time.sleep(2.5)  # files written just now are not fingerprinted by a plan (content/cache.py RACY_NS)
        validate = min(checked(root, "validate", ok=(0, 1)) for _ in range(args.repeat))
        runs = [one_restart(root, children, n) for n in range(args.repeat)]
        validate = min(validate, checked(root, "validate", ok=(0, 1)))
        after = Path("/proc/loadavg").read_text().strip()
    syncs, sends = [r[0] for r in runs], [r[1] for r in runs]
    print(f"{args.posts:,} posts (4 dry-run channels) + 1 due post; best of {args.repeat}")
    print(f"validate (baseline)            {validate:6.2f} s")
    print(f"first sync (run --once, new)   {min(syncs):6.2f} s  = {min(syncs) / validate:5.2f}x validate  (goal <= 2x)")
    print(f"  runs: {', '.join(f'{s:.2f}' for s in syncs)}")
    print(
        f"restart -> due post recorded   {min(sends):6.2f} s  = {min(sends) / validate:5.2f}x validate  (goal <= 0.1x)"
    )
    print(f"  runs: {', '.join(f'{s:.2f}' for s in sends)}")
    print(f"after: {load()} ({after})")
    print("the last daemon's log about it:")
    print(runs[-1][2])


if __name__ == "__main__":
    main()
