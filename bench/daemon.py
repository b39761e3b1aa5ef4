"""Benchmarks of the daemon (`campaign run`) as a real process. They print figures, never assert.

    python bench/daemon.py [lateness|idle|throughput|replan|all] [--idle-seconds 60] [--keep]

lateness    500 posts due over 30 s on one dry-run channel, SQLite ledger: p50/p99/max of
            sent - due (the outbox's published_at against the post's due time). Goal p99 < 0.5 s.
            The ledger's claim time splits it into waking up (claim - due) and sending.
idle        10,000 posts of bench/synthetic.py (4 channels, all >= 1 day ahead), SQLite: the
            daemon's user+sys CPU over 60 s once it has synced, per thread. Goal < 1 % of a core.
throughput  2,000 due posts to the fake Mastodon (50 ms per request, in its own process) on
            PostgreSQL (fsync on): 1 worker, 4 workers (`run --workers 4`), 4 processes of 1
            worker, and `run --once --workers 4`. Posts/s over the sending window (first claim to
            last publication, by the database clock), and whether each post went out exactly once
            (statuses counted on the server). Goal: 4 workers >= 3x one.
replan      the idle campaign plus a `due` channel with a post due every 0.5 s for 40 s, SQLite:
            one post of the 10,000 is edited every 4 s; seconds from each edit to the daemon's
            `plan: ... ledger` line (goal < 0.5 s), and the due posts' lateness meanwhile (goal
            p99 < 0.5 s). The baseline in the same run is the daemon's start-up sync.

Every child process (daemons, the fake server, PostgreSQL) is stopped on the way out, also on
failure, Ctrl-C or SIGTERM. Each wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` and `tests` live in the repo

from bench.synthetic import generate
from scheduler.publish.ledger import Ledger, database_url
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.pgserver import create_database, postgres

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------- helpers


class Children:
    """The processes a benchmark started; whatever is still running on exit is terminated, then killed."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def daemon(self, root: Path, *args: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
        """`campaign run ARGS` for the campaign at `root`; its log (stderr) and stdout go to `log`."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_") and k != "DATABASE_URL"}
        environment.update(CAMPAIGN_ROOT=str(root), **env)
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "scheduler", "run", *args], env=environment, stdout=out, stderr=out
            )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 15) -> int:
        """SIGTERM, then SIGKILL after `timeout` seconds; the exit code."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return process.returncode

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *_exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.stop(process, timeout=10)


@contextmanager
def workdir(name: str, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"bench-daemon-{name}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"  (kept {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> float:
    """Poll `condition` until true; seconds waited. TimeoutError after `timeout` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - started


def running(process: subprocess.Popen[bytes], log: Path) -> Callable[[], bool]:
    """A condition: the daemon logged that it runs (it has synced and made its first pass)."""

    def check() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode}:\n{tail(log)}")
        return log.exists() and b" running as " in log.read_bytes()

    return check


def tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]) if path.exists() else ""


def load() -> str:
    """The load averages (1, 5, 15 min): other work on the host skews every figure here."""
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def spread(values: Sequence[float]) -> str:
    return f"p50 {percentile(values, 50):7.1f}  p99 {percentile(values, 99):7.1f}  max {max(values):7.1f} ms"


def at(moment: datetime) -> str:
    """A quoted publish_at with milliseconds and an explicit offset."""
    return "'" + moment.astimezone(UTC).isoformat(timespec="milliseconds") + "'"


def write_campaign(root: Path, channels: str, posts: dict[str, datetime]) -> None:
    """One post per entry, each with its own text (repeats would be held), on the channels' defaults."""
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(channels, encoding="utf-8")
    names = re.findall(r"^  (\w+):", channels, flags=re.M)
    (root / "posts" / "_defaults.yml").write_text(
        f"campaign: Bench\ntimezone: Europe/Amsterdam\nchannels: [{', '.join(names)}]\n", encoding="utf-8"
    )
    for number, (name, due) in enumerate(posts.items()):
        (root / "posts" / f"{name}.md").write_text(
            f"---\npublish_at: {at(due)}\n---\nBericht {number}: praat erover, zie je iets, zeg iets.\n",
            encoding="utf-8",
        )


def outbox(root: Path) -> list[dict[str, Any]]:
    """The dry-run outbox's complete lines (a line being written is left for the next read)."""
    path = root / "dryrun-outbox.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    return [json.loads(line) for line in lines if line.strip()]


def cpu_ticks(pid: int) -> int:
    """user+sys clock ticks of process `pid` (all its threads, living and ended)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)


def wakeups(pid: int) -> dict[int, int]:
    """Context switches (≈ wake-ups) of each thread of `pid` so far, by thread id."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        found[int(task.name)] = sum(
            int(n) for n in re.findall(r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", status, re.M)
        )
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------------------------------- lateness


def lateness(keep: bool, posts: int = 500, over: float = 30.0, lead: float = 5.0) -> None:
    print(f"lateness: {posts} posts due over {over:g} s on one dry-run channel, SQLite, 1 worker")
    with workdir("lateness", keep) as root, Children() as children:
        started = datetime.now(UTC)
        first = started + timedelta(seconds=lead)
        due = {f"p{i:03d}": first + timedelta(seconds=over * i / posts) for i in range(posts)}
        write_campaign(root, "channels:\n  dry: {type: dryrun, like: mastodon}\n", due)
        log = root / "daemon.log"
        launched = time.monotonic()
        process = children.daemon(root, log=log)
        ready = wait_until(running(process, log), 60, "the daemon to start")
        print(f"  daemon started and synced in {ready:.2f} s (first post due {lead:g} s after launch)")
        if time.monotonic() - launched > lead:
            print("  WARNING: the daemon was not ready before the first post was due; the first ones count late")
        wait_until(lambda: len(outbox(root)) >= posts, lead + over + 120, f"{posts} posts in the outbox", 0.5)
        code = children.stop(process)
        sent = outbox(root)
        ledger = Ledger(database_url(None, root))
        try:
            rows = {r.post: r for r in ledger.views.rows()}
            claimed = {a.post: a.started_at for a in ledger.views.history() if a.outcome == "published"}
        finally:
            ledger.close()
    once = Counter(r["post"] for r in sent)
    late = [(datetime.fromisoformat(r["published_at"]) - rows[r["post"]].due) / timedelta(milliseconds=1) for r in sent]
    wake = [(claimed[p] - rows[p].due) / timedelta(milliseconds=1) for p in claimed]
    send = [
        (datetime.fromisoformat(r["published_at"]) - claimed[r["post"]]) / timedelta(milliseconds=1)
        for r in sent
        if r["post"] in claimed
    ]
    record = [
        (recorded - datetime.fromisoformat(r["published_at"])) / timedelta(milliseconds=1)
        for r in sent
        if (recorded := rows[r["post"]].published_at) is not None
    ]
    print(f"  sent {len(once)} posts, each once: {set(once.values()) == {1}}; daemon exit code {code} after SIGTERM")
    print(f"  sent - due:       {spread(late)}   (goal p99 < 500 ms)")
    print(f"    claim - due:    {spread(wake)}   (timer wake-up and queueing behind earlier posts)")
    print(f"    sent - claim:   {spread(send)}   (claim commit, pause check, outbox lock + key scan)")
    print(f"    recorded - sent:{spread(record)}   (outbox write + fsync, settle commit)")
    print(f"  early (sent before due): {sum(1 for v in late if v < 0)}; {load()}")


# ---------------------------------------------------------------------------------------- idle


def future_campaign(root: Path, posts: int) -> Path:
    """bench/synthetic.py's campaign, moved whole years ahead if its first post is less than a day away."""
    generate(root, posts)
    first = datetime(2027, 1, 1, tzinfo=UTC)  # synthetic.py's start
    years = 0
    while first.replace(year=first.year + years) < datetime.now(UTC) + timedelta(days=1):
        years += 1
    if years:
        moved = re.compile(r"^(publish_at|  start): (\d{4})", flags=re.M)
        for path in (root / "posts").rglob("*"):
            if path.suffix in (".md", ".yml"):
                text = path.read_text(encoding="utf-8")
                path.write_text(moved.sub(lambda m: f"{m[1]}: {int(m[2]) + years}", text), encoding="utf-8")
    return root


def idle(keep: bool, seconds: float = 60.0, posts: int = 10_000) -> None:
    print(f"idle: {posts} future posts (bench/synthetic.py, 4 dry-run channels), SQLite, {seconds:g} s")
    with workdir("idle", keep) as root, Children() as children:
        future_campaign(root, posts)
        log = root / "daemon.log"
        process = children.daemon(root, log=log)
        ready = wait_until(running(process, log), 600, "the daemon to start and sync", 0.5)
        ledger = Ledger(database_url(None, root))
        try:
            states = Counter(r.state for r in ledger.views.rows())
            next_due = ledger.sends.next_wake()
        finally:
            ledger.close()
        print(f"  started and synced in {ready:.1f} s: {dict(states)}; next due {next_due:%Y-%m-%d %H:%M} UTC")
        # Let the start's after-effects pass: the warm-up re-read of the files written just before
        # the start (2.5 s after it), the watchers' first plan once live, APScheduler's first runs.
        time.sleep(10)
        cpu, switches, began = cpu_ticks(process.pid), wakeups(process.pid), time.monotonic()
        time.sleep(seconds)
        cpu, elapsed = cpu_ticks(process.pid) - cpu, time.monotonic() - began
        woke = sorted((n - switches.get(tid, 0) for tid, n in wakeups(process.pid).items()), reverse=True)
        memory = rss_mb(process.pid)
        code = children.stop(process)
        skipped = tail(log, 10**6).count(" ERROR ")
    used = cpu / CLOCK_TICK
    print(f"  ({skipped} files with errors skipped: synthetic.py puts a few posts in DST gaps and folds)")
    print(f"  CPU {used:.2f} s in {elapsed:.1f} s = {100 * used / elapsed:.2f} % of one core   (goal < 1 %)")
    print(f"  context switches per thread in that time: {woke} ({len(woke)} threads)")
    print(f"  resident memory {memory:.0f} MB; daemon exit code {code} after SIGTERM; {load()}")


# ---------------------------------------------------------------------------------------- replan


def replanned(log: Path, before: int) -> bool:
    """The daemon logged more `plan:` lines than `before`: it re-read the files and synced the ledger."""
    return log.read_bytes().count(b" plan: ") > before


def replan(keep: bool, posts: int = 10_000, edits: int = 8, every: float = 4.0) -> None:
    print(f"replan: {posts} future posts + a post due every 0.5 s on `due`; {edits} edits, one each {every:g} s")
    with workdir("replan", keep) as root, Children() as children:
        future_campaign(root, posts)
        with (root / "channels.yml").open("a", encoding="utf-8") as channels:
            channels.write("  due: {type: dryrun, like: mastodon}\n")
        lead = 240.0  # the start-up sync of 10,000 posts must be over before the first one is due
        first = datetime.now(UTC) + timedelta(seconds=lead)
        window = edits * every + 8
        due = {f"d{i:03d}": first + timedelta(seconds=0.5 * i) for i in range(int(window / 0.5))}
        (root / "posts" / "due").mkdir()
        (root / "posts" / "due" / "_defaults.yml").write_text("channels: [due]\n", encoding="utf-8")
        for number, (name, moment) in enumerate(due.items()):
            (root / "posts" / "due" / f"{name}.md").write_text(
                f"---\npublish_at: {at(moment)}\n---\nNu {number}: praat erover.\n", encoding="utf-8"
            )
        log = root / "daemon.log"
        launched = time.monotonic()
        process = children.daemon(root, log=log)
        ready = wait_until(running(process, log), lead - 10, "the daemon to start and sync", 0.5)
        print(f"  start-up: read, planned and synced everything in {ready:.1f} s (the baseline)")
        wait_until(lambda: time.monotonic() - launched > lead + 2, lead + 5, "the first due post")
        target = next((root / "posts").rglob("p00042.md"))
        taken: list[float] = []
        for edit in range(edits):
            before = log.read_bytes().count(b" plan: ")
            text = target.read_text(encoding="utf-8").rstrip("\n")
            target.write_text(f"{text} ({edit})\n", encoding="utf-8")
            edited = time.monotonic()
            wait_until(partial(replanned, log, before), 120, "the re-plan", 0.01)
            taken.append(time.monotonic() - edited)
            time.sleep(max(0.0, every - taken[-1]))
        wait_until(lambda: sum(1 for r in outbox(root) if r["channel"] == "due") >= len(due), 120, "the due posts")
        code = children.stop(process)
        sent = [r for r in outbox(root) if r["channel"] == "due"]
    late = [
        (datetime.fromisoformat(r["published_at"]) - due[r["post"].split("/")[-1]]) / timedelta(milliseconds=1)
        for r in sent
    ]
    print(
        f"  edit -> ledger: {spread([t * 1000 for t in taken])}   (goal < 500 ms; ratio to start-up p50 "
        f"{percentile(taken, 50) / ready:.3f})"
    )
    print(f"  due posts meanwhile: {len(sent)} sent, sent - due {spread(late)}   (goal p99 < 500 ms)")
    print(f"  daemon exit code {code} after SIGTERM; {load()}")


# ---------------------------------------------------------------------------------------- throughput


def serve(latency_ms: float, pipe: Connection) -> None:
    """The fake Mastodon in a process of its own: answers `stats` with what it received; `stop` ends it."""
    with FakeMastodon(latency_ms=latency_ms) as server:
        pipe.send(server.url)
        while (command := pipe.recv()) != "stop":
            assert command == "stats"
            with server.lock:
                keys = Counter(s["idempotency_key"] for s in server.statuses)
                texts = Counter(s["text"] for s in server.statuses)
                times = [datetime.fromisoformat(s["created_at"]).timestamp() for s in server.statuses]
                requests = sum(1 for r in server.requests if r.path == "/api/v1/statuses")
            pipe.send(
                {
                    "statuses": sum(keys.values()),
                    "keys": len(keys),
                    "texts": len(texts),
                    "requests": requests,
                    "first": min(times, default=0.0),
                    "last": max(times, default=0.0),
                }
            )


@contextmanager
def fake_mastodon(latency_ms: float) -> Iterator[tuple[str, Callable[[], dict[str, float]]]]:
    """(its URL, a function returning its counts)."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve, args=(latency_ms, theirs), daemon=True)
    child.start()
    try:
        if not ours.poll(30):
            raise TimeoutError("the fake Mastodon did not start")

        def stats() -> dict[str, float]:
            ours.send("stats")
            if not ours.poll(30):
                raise TimeoutError("the fake Mastodon did not answer")
            counts: dict[str, float] = ours.recv()
            return counts

        yield ours.recv(), stats
    finally:
        if child.is_alive():
            with suppress(OSError):
                ours.send("stop")
            child.join(10)
        if child.is_alive():
            child.kill()
            child.join(5)


@dataclass(frozen=True)
class Setup:
    label: str
    processes: int
    workers: int
    once: bool = False


SETUPS = (
    Setup("run --workers 1", 1, 1),
    Setup("run --workers 4", 1, 4),
    Setup("4 x run --workers 1", 4, 1),
    Setup("run --once --workers 4", 1, 4, once=True),
)


def throughput(keep: bool, posts: int = 2000, latency_ms: float = 50.0) -> None:
    print(f"throughput: {posts} due posts, fake Mastodon at {latency_ms:g} ms/request (own process), PostgreSQL")
    rates: dict[str, float] = {}
    with postgres(fsync=True) as admin:
        for setup in SETUPS:
            rates[setup.label] = one_throughput(setup, admin, keep, posts, latency_ms)
    base = rates[SETUPS[0].label]
    for setup in SETUPS[1:]:
        print(f"  {setup.label} / {SETUPS[0].label}: {rates[setup.label] / base:.2f}x", end="")
        print("   (goal >= 3x)" if setup.workers * setup.processes == 4 else "")


def one_throughput(setup: Setup, admin: str, keep: bool, posts: int, latency_ms: float) -> float:
    import psycopg

    db = create_database(admin, f"bench_{uuid.uuid4().hex[:10]}")
    with workdir("throughput", keep) as root, fake_mastodon(latency_ms) as (url, stats), Children() as children:
        channels = f"channels:\n  mastodon: {{type: mastodon, instance: '{url}', token: '${{MASTODON_TOKEN}}'}}\n"
        due = datetime.now(UTC) - timedelta(minutes=1)
        write_campaign(root, channels, {f"p{i:04d}": due + timedelta(milliseconds=i) for i in range(posts)})
        env = {"DATABASE_URL": db, "MASTODON_TOKEN": TOKEN}
        upgrade = subprocess.run(
            [sys.executable, "-m", "scheduler", "db", "upgrade"],
            env={**os.environ, "CAMPAIGN_ROOT": str(root), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if upgrade.returncode:
            raise RuntimeError(f"campaign db upgrade failed: {upgrade.stderr}")
        args = ["--workers", str(setup.workers), *(["--once"] if setup.once else [])]
        logs = [root / f"daemon-{n}.log" for n in range(setup.processes)]
        cpu_before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        daemons = [children.daemon(root, *args, log=log, **env) for log in logs]

        def published() -> int:
            with psycopg.connect(db) as conn:
                row = conn.execute("SELECT count(*) FROM deliveries WHERE state = 'published'").fetchone()
            for process, log in zip(daemons, logs, strict=True):
                if process.poll() not in (None, 0):
                    raise RuntimeError(f"a daemon exited with {process.returncode}:\n{tail(log)}")
            return int(row[0]) if row else 0

        wait_until(lambda: published() >= posts, 900, f"{posts} posts published", 0.5)
        if setup.once:  # it stops by itself once nothing is due
            wait_until(lambda: all(p.poll() is not None for p in daemons), 60, "run --once to exit", 0.1)
        wall = time.monotonic() - began
        codes = [children.stop(process) for process in daemons]
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the daemons, now waited for
        cpu = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime"))
        with psycopg.connect(db) as conn:
            first, last, attempts = conn.execute(
                "SELECT min(started_at), max(finished_at), count(*) FROM attempts"
            ).fetchone() or (None, None, 0)
            states: dict[str, int] = dict(
                conn.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall()
            )
        counts = stats()
    window = counts["last"] - counts["first"]
    rate: float = (counts["statuses"] - 1) / window
    exactly_once = counts["statuses"] == counts["keys"] == counts["texts"] == posts and attempts == posts
    senders = setup.processes * setup.workers
    claimed = (last - first).total_seconds()  # 0 with --once: its clock stands still at the start
    print(
        f"  {setup.label:<24} {rate:6.1f} posts/s   {1000 * senders / rate:5.1f} ms per post per worker "
        f"({window:.1f} s first to last status; {wall:.1f} s with start-up"
        + (f"; ledger: first claim to last settle {claimed:.1f} s)" if claimed else ")")
    )
    print(f"  {'':<24} daemon CPU {cpu:.1f} s with start-up = {1000 * cpu / posts:.1f} ms per post")
    print(
        f"  {'':<24} exactly once: {exactly_once} (server: {counts['statuses']:.0f} statuses, {counts['keys']:.0f} "
        f"keys, {counts['requests']:.0f} POSTs; ledger: {states}, {attempts} attempts; exit codes {codes}); {load()}"
    )
    return rate


# ---------------------------------------------------------------------------------------- main


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the children


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("which", nargs="?", default="all", choices=["lateness", "idle", "throughput", "replan", "all"])
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="how long the idle CPU is measured")
    parser.add_argument("--keep", action="store_true", help="keep the campaigns, ledgers and daemon logs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {load()}")
    if args.which in ("lateness", "all"):
        lateness(args.keep)
    if args.which in ("idle", "all"):
        idle(args.keep, args.idle_seconds)
    if args.which in ("throughput", "all"):
        throughput(args.keep)
    if args.which in ("replan", "all"):
        replan(args.keep)


if __name__ == "__main__":
    main()
