"""The calendar export of a big plan against the sheet export of the same plan, in one run.

    .venv/bin/python bench/ics_export.py [--posts 10000] [--repeat 5] [--profile]

Makes the synthetic campaign of bench/synthetic.py (10,000 posts on 4 channels: 40,000 events), then
runs `campaign export --format csv` and `campaign export --format ics` as a user runs them, each its
own process, interleaved (the order swapped every round, so a change in the machine's load falls on
both), --repeat rounds. Prints each command's median wall time, the median of the per-round ratios
ics / csv (goal ≤ 2), the load average before and after, and checks the calendar it wrote: as many
events as sends, every line at most 75 octets and valid UTF-8 on its own. --profile adds a cProfile of
the calendar's writing alone (in this process, after planning). Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import generate

NOW = {"CAMPAIGN_NOW": "2000-01-01T00:00:00+01:00"}  # everything ahead: no past-due warnings
GOAL = 2.0


def export(root: Path, fmt: str, out: Path) -> float:
    """Wall time of one `campaign export` process."""
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGN_ROOT", "DATABASE_URL")} | NOW
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--root", str(root), "export", "--format", fmt, "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"campaign export --format {fmt} failed: {result.stderr[-2000:]}")
    return seconds


def uptime() -> str:
    with open("/proc/loadavg", encoding="ascii") as opened:
        return " ".join(opened.read().split()[:3])


def check(calendar: Path) -> tuple[int, int]:
    """The number of events and the longest line in octets; every line must decode as UTF-8 on its own."""
    data = calendar.read_bytes()
    lines = data.split(b"\r\n")
    for line in lines:
        line.decode("utf-8")
    return data.count(b"BEGIN:VEVENT\r\n"), max(len(line) for line in lines)


def profile(root: Path) -> str:
    os.environ.update(NOW)
    from scheduler.content.plan import build
    from scheduler.views import ics

    plan = build(root)
    entries = plan.select()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    ics.calendar(plan, entries, stamp=datetime(2026, 12, 1, tzinfo=UTC))
    profiler.disable()
    plain = time.perf_counter() - started
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
    return f"ics.calendar of {len(entries):,} sends, in-process under cProfile: {plain:.2f} s\n{text.getvalue()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="rounds of both exports; medians count")
    parser.add_argument("--profile", action="store_true", help="also profile the calendar's writing in-process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ics-") as tmp:
        root = generate(Path(tmp) / "campaign", args.posts)
        sheet, calendar = Path(tmp) / "plan.csv", Path(tmp) / "plan.ics"
        load_before = uptime()
        sheets, calendars, ratios = [], [], []
        for round_ in range(args.repeat):
            if round_ % 2 == 0:
                csv_time = export(root, "csv", sheet)
                ics_time = export(root, "ics", calendar)
            else:
                ics_time = export(root, "ics", calendar)
                csv_time = export(root, "csv", sheet)
            sheets.append(csv_time)
            calendars.append(ics_time)
            ratios.append(ics_time / csv_time)
        load_after = uptime()
        events, longest = check(calendar)
        profiled = profile(root) if args.profile else ""
    ratio = statistics.median(ratios)
    print(f"{args.posts:,} posts, {events:,} events; {args.repeat} rounds, interleaved; {os.cpu_count()} CPUs")
    print(f"load average (1, 5, 15 min): {load_before} before, {load_after} after")
    for label, times in (("export --format csv", sheets), ("export --format ics", calendars)):
        print(f"{label}   median {statistics.median(times):6.2f} s   runs {', '.join(f'{s:.2f}' for s in times)}")
    met = "met" if ratio <= GOAL else "NOT met"
    each = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"ics / csv             median {ratio:6.2f}×    runs {each}  (goal ≤ {GOAL:.0f}: {met})")
    print(f"longest calendar line {longest} octets (≤ 75), every line valid UTF-8")
    if profiled:
        print(profiled)


if __name__ == "__main__":
    main()
