"""The HTML preview of the synthetic 10,000-post campaign, run as a user runs it.

    python bench/html_preview.py [--posts 10000] [--repeat 1] [--out DIR]

Runs `campaign preview --format html` as a separate process and prints its median wall time,
its peak memory, the pages written and the largest one; the same with CAMPAIGN_PROCESSES=1 (all
in one process: the baseline for the ratio); then `--format json` on the same campaign, whose
time is mostly planning, so the difference is what the HTML costs. Goals: under 3 s, no page
over 5 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import generate

GOAL_SECONDS = 3.0
GOAL_PAGE_BYTES = 5_000_000


def run(root: Path, *args: str, processes: str = "") -> float:
    """Wall time of one `campaign` process."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "scheduler", "--root", str(root), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CAMPAIGN_PROCESSES": processes},
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the median counts")
    parser.add_argument("--out", type=Path, help="keep the campaign and the pages here (default: a temp folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-html-") as temp:
        folder = args.out or Path(temp)
        root, pages = generate(folder / "campaign", args.posts), folder / "pages"
        pages.mkdir(parents=True, exist_ok=True)
        html_args = ("preview", "--format", "html", "-o", str(pages / "preview.html"))
        runs = [run(root, *html_args) for _ in range(args.repeat)]
        html = statistics.median(runs)
        # ru_maxrss of children is the largest of any child so far (KiB on Linux): the HTML runs come first.
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        one = statistics.median(run(root, *html_args, processes="1") for _ in range(args.repeat))
        json_args = ("preview", "--format", "json", "-o", str(folder / "plan.json"))
        planning = statistics.median(run(root, *json_args) for _ in range(args.repeat))
        sizes = sorted(((p.stat().st_size, p.name) for p in pages.glob("*.html")), reverse=True)

    total = sum(size for size, _ in sizes)
    largest, largest_name = sizes[0]
    print(f"campaign preview --format html, {args.posts:,} posts (median of {args.repeat}), {os.cpu_count()} CPUs")
    met = "met" if html < GOAL_SECONDS else "NOT met"
    each = ", ".join(f"{r:.2f}" for r in runs)
    print(f"  wall time        {html:6.2f} s   (goal < {GOAL_SECONDS:.0f} s: {met}; runs {each})")
    print(f"  in one process   {one:6.2f} s   (CAMPAIGN_PROCESSES=1; {html / one:.2f}x of it with forked workers)")
    print(f"  same plan, JSON  {planning:6.2f} s   (HTML costs {html - planning:+.2f} s over it)")
    print(f"  peak RSS         {peak_mib:6.0f} MiB")
    print(f"  pages            {len(sizes)}, {total / 1e6:.1f} MB in all")
    ok = largest <= GOAL_PAGE_BYTES
    print(f"  largest page     {largest / 1e6:.2f} MB, {largest_name}   (goal ≤ 5 MB: {'met' if ok else 'NOT met'})")


if __name__ == "__main__":
    main()
