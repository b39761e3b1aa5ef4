"""Preview of a campaign where every post is a template, cold and warm, against the naive floor, in one run.

    .venv/bin/python bench/templates.py [--posts 10000] [--repeat 5] [--before DIR] [--profile]

Generates bench/synthetic.py's campaign with `templates=True` (every body has `{{ post.title }}`,
a date and `{{ vars.helpline }}`, in places that differ from post to post), then runs, interleaved,
--repeat rounds of:

    preview   campaign preview --format json  (to /dev/null; cold: an empty CAMPAIGN_CACHE_DIR of its
              own, which it fills: scheduler.content.stored)
    warm      the same with a CAMPAIGN_CACHE_DIR that a preview filled before the rounds, as a CI job
              that keeps that folder between runs
    no store  cold, with a CAMPAIGN_CACHE_DIR that cannot be made (under a file): what filling costs
    preview/1 cold with CAMPAIGN_PROCESSES=1: planning in this one process, no forked workers
    before    with --before DIR: the preview of the code in DIR, an earlier version's scheduler/ package
              (`mkdir /tmp/before && git archive main scheduler | tar -x -C /tmp/before`), run with
              PYTHONPATH=DIR in the same rounds
    floor     python-frontmatter + one `jinja2.Template` per post, rendered once per channel (4): the
              floor/1 of bench/content.py, the same context names and the same Babel `date` filter

Each is a process of its own under a wrapper that reads its wall time and its CPU time (user + sys,
getrusage of the wrapper's only child). Prints the median of each, the ratio preview / floor per round
and its median, and the load average (`uptime`) before and after. Goal: preview ≤ 0.3× the floor's
wall time, cold; warm faster again. Asserts nothing about time. --profile also runs the planning once
in-process under cProfile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.content import FLOOR, campaign_command, profile
from bench.synthetic import generate

GOAL = 0.3
FRESH = "(a new empty folder for each run)"
_scratch: list[str] = [tempfile.gettempdir()]  # where those folders go: the run's temporary folder
NOW = {"CAMPAIGN_NOW": "2000-01-01T00:00:00+01:00"}  # everything ahead: no past-due warnings

# Runs argv[1:] with stdout to /dev/null; prints {"wall", "cpu", "returncode"}.
WRAPPER = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
used = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": used.ru_utime + used.ru_stime, "returncode": code}))
"""


def run(argv: list[str], extra: dict[str, str]) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGN_ROOT", "DATABASE_URL")} | NOW | extra
    if env.get("CAMPAIGN_CACHE_DIR") == FRESH:
        env["CAMPAIGN_CACHE_DIR"] = tempfile.mkdtemp(prefix="cold-", dir=_scratch[0])
    out = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, check=True, env=env)
    result: dict[str, float] = json.loads(out.stdout)
    if result["returncode"] not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited with {result['returncode']}")
    return result


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds; the median counts")
    parser.add_argument("--profile", action="store_true", help="also profile the planning with cProfile")
    parser.add_argument("--before", type=Path, help="a checkout of an earlier version to measure in the same rounds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-templates-") as temp:
        root = generate(Path(temp) / "campaign", args.posts, templates=True)
        _scratch[0] = temp
        floor_script = Path(temp) / "floor.py"
        floor_script.write_text(FLOOR, encoding="utf-8")
        preview = [*campaign_command(), "--root", str(root), "preview", "--format", "json"]
        kept = Path(temp) / "kept-cache"
        blocked = Path(temp) / "a-file"
        blocked.write_text("a cache folder cannot be made under a file", encoding="utf-8")
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "preview": (preview, {"CAMPAIGN_CACHE_DIR": FRESH}),
            "warm": (preview, {"CAMPAIGN_CACHE_DIR": str(kept)}),
            "floor": ([sys.executable, str(floor_script), str(root), "once"], {}),
            "no store": (preview, {"CAMPAIGN_CACHE_DIR": str(blocked / "cache")}),
            "preview/1": (preview, {"CAMPAIGN_PROCESSES": "1", "CAMPAIGN_CACHE_DIR": FRESH}),
        }
        if args.before is not None:
            commands["before"] = (preview, {"PYTHONPATH": str(args.before.resolve()), "CAMPAIGN_CACHE_DIR": FRESH})
        time.sleep(2.5)  # the store keeps only files older than 2 s (scheduler.content.cache.RACY_NS)
        run(*commands["warm"])  # fills the kept folder, as an earlier CI run did
        before = uptime()
        rounds: list[dict[str, dict[str, float]]] = []
        for number in range(args.repeat):
            # Alternate which side goes first, so that neither always follows the other's after-effects.
            order = list(commands) if number % 2 == 0 else list(reversed(commands))
            rounds.append({name: run(*commands[name]) for name in order})
        after = uptime()
        if args.profile:
            profile(root)

    print(f"\n{args.posts:,} posts, every one a template, x 4 channels; {args.repeat} interleaved rounds\n")
    print(f"  {'':<10} {'wall median':>12} {'cpu median':>11}   walls")
    for name in commands:
        walls = [r[name]["wall"] for r in rounds]
        cpus = [r[name]["cpu"] for r in rounds]
        shown = " ".join(f"{w:.2f}" for w in walls)
        print(f"  {name:<10} {statistics.median(walls):11.2f}s {statistics.median(cpus):10.2f}s   {shown}")
    if args.before is not None:
        before_ratios = [r["before"]["wall"] / r["floor"]["wall"] for r in rounds]
        shown = " ".join(f"{x:.2f}" for x in before_ratios)
        print(f"\n  before / floor, wall: median {statistics.median(before_ratios):.2f}x (rounds: {shown})")
    warm = [r["warm"]["wall"] / r["floor"]["wall"] for r in rounds]
    warm_cold = [r["warm"]["wall"] / r["preview"]["wall"] for r in rounds]
    shown = " ".join(f"{x:.2f}" for x in warm)
    print(f"  warm / floor, wall:    median {statistics.median(warm):.2f}x (rounds: {shown})")
    print(f"  warm / cold, wall:     median {statistics.median(warm_cold):.2f}x")
    ratios = [r["preview"]["wall"] / r["floor"]["wall"] for r in rounds]
    cpu_ratios = [r["preview"]["cpu"] / r["floor"]["cpu"] for r in rounds]
    ratio = statistics.median(ratios)
    print(f"  preview / floor, wall: median {ratio:.2f}x (rounds: {' '.join(f'{x:.2f}' for x in ratios)})")
    print(f"  preview / floor, cpu:  median {statistics.median(cpu_ratios):.2f}x")
    print(f"\n  load before: {before}\n  load after:  {after}")
    print(f"\n  {'met    ' if ratio <= GOAL else 'NOT met'}  preview <= {GOAL}x the floor's wall time (cold)")


if __name__ == "__main__":
    main()
