"""What the link checks cost: per send in the daemon's pass, for `validate --check-links`, and
when a site does not answer.

    python bench/links.py [--sends 300] [--links 200] [--latency-ms 20]

Everything runs in this process against tests/fakes/links_server.py (used as the HTTP proxy, so
posts link to ordinary names). Prints figures; asserts nothing about time.

- send:     one pass over N due sends (one dry-run channel, SQLite), each with its own link,
            with the daemon's gate and without: seconds and the added milliseconds per send.
- validate: `check_plan` over L distinct links with the site answering after --latency-ms,
            8 workers against 1, and how many fetches the site saw.
- slow:     3 sends whose links (on one site) never answer: the pass waits once, 3 s (the gate's bound),
            and one post on 4 channels (the cache: the site is asked once).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.fakes` lives in the repo

from scheduler.content import plan as plan_file
from scheduler.content.campaign import load
from scheduler.links.checker import Checker
from scheduler.links.gate import Gate
from scheduler.links.report import check_plan
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Ledger
from scheduler.publish.publisher import Channels, Policy, Publisher
from tests.builders import write_campaign
from tests.fakes.links_server import LinkSite

DUE = datetime(2027, 11, 15, 8, 0, tzinfo=UTC)
POLICY = Policy(timedelta(hours=1), 8, timedelta(seconds=30), timedelta(seconds=60))
FOUR = "channels:\n" + "".join(f"  c{n}: {{type: dryrun, like: mastodon}}\n" for n in range(4))


def _campaign(root: Path, links: list[str], channels: str | None = None, per_post: str = "") -> Path:
    posts = {
        f"p{i:04}.md": f"---\npublish_at: {(DUE + timedelta(seconds=i)).isoformat()}\n{per_post}---\nLees {url}\n"
        for i, url in enumerate(links)
    }
    return write_campaign(root, posts, **({"channels": channels} if channels else {}))


def _pass(root: Path, gate: Gate | None, workers: int = 1) -> float:
    ledger = Ledger(f"sqlite:///{root / f'ledger-{time.monotonic_ns()}.db'}")
    ledger.upgrade()
    campaign, _ = load(root)
    clock = SimulatedClock(DUE + timedelta(hours=0, minutes=30))
    publisher = Publisher(ledger, Channels(campaign), Alerter(ledger), POLICY, "bench:0:a", clock=clock, links=gate)
    publisher.sync(plan_file.build(root), clock.now())
    started = time.perf_counter()
    publisher.make_pass(workers)
    took = time.perf_counter() - started
    ledger.close()
    return took


def send(site: LinkSite, count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-links-") as tmp:
        root = _campaign(Path(tmp), [f"{site.url}/ok?n={i}" for i in range(count)])
        without = _pass(root, None)
        gate = Gate()
        with_gate = _pass(root, gate)
        gate.close()
    added = (with_gate - without) / count * 1000
    print(
        f"send: {count} sends, site latency {site.latency_seconds * 1000:.0f} ms: without the check {without:.2f} s, "
        f"with it {with_gate:.2f} s ({with_gate / without:.2f}x; +{added:.1f} ms a send)"
    )


def validate(site: LinkSite, count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-links-") as tmp:
        root = _campaign(Path(tmp), [f"{site.url}/ok?v={i}" for i in range(count)])
        plan = plan_file.build(root)
        figures = {}
        for workers in (1, 8):
            before = len(site.requests)
            checker = Checker(timeout=10, workers=workers)
            started = time.perf_counter()
            checked = check_plan(plan, checker)
            figures[workers] = time.perf_counter() - started
            checker.close()
            print(
                f"validate: {checked.links} links, {workers} worker(s): {figures[workers]:.2f} s, "
                f"{len(site.requests) - before} requests"
            )
    print(f"validate: 8 workers {figures[1] / figures[8]:.1f}x faster than 1")


def slow(site: LinkSite) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-links-") as tmp:
        root = _campaign(Path(tmp), [f"{site.url}/slow?s={i}" for i in range(3)])
        gate = Gate()
        took = _pass(root, gate)
        gate.close()
        print(f"slow: 3 sends whose links on one site never answer, 1 worker: {took:.2f} s in all (bound 3 s a send)")
    with tempfile.TemporaryDirectory(prefix="bench-links-") as tmp:
        root = Path(tmp)
        write_campaign(
            root,
            {"a.md": f"---\npublish_at: {DUE.isoformat()}\nchannels: [c0, c1, c2, c3]\n---\nLees {site.url}/slow?c\n"},
            channels=FOUR,
        )
        before = site.count("/slow")
        gate = Gate()
        took = _pass(root, gate)
        gate.close()
        print(f"slow: one post on 4 channels: {took:.2f} s, the site asked {site.count('/slow') - before} time(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--links", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)
    print(f"load average {os.getloadavg()[0]:.1f}")
    with LinkSite(slow_seconds=30) as site:
        os.environ["HTTP_PROXY"] = os.environ["http_proxy"] = site.address
        os.environ["CAMPAIGN_LINKS_ALLOW_HOSTS"] = site.hosts  # its names stand for public sites
        send(site, args.sends)
        site.latency_seconds = args.latency_ms / 1000
        send(site, args.sends)
        validate(site, args.links)
        slow(site)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
