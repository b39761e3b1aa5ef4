"""Validate and preview of the synthetic campaign, against a floor of plain frontmatter + Jinja2.

    python bench/content.py [--posts 10000] [--repeat 3] [--profile]

Generates the campaign with bench/synthetic.py in a temp folder, then runs as separate processes,
each --repeat times (the median counts):

    validate   campaign validate
    preview    campaign preview --format json   (to /dev/null)
    floor      the same post files read with python-frontmatter (`frontmatter.load`) and each body
               rendered with plain `jinja2.Template(body).render(...)` once per channel of the post
               (4), with the same context names and the same Babel `date` filter
    floor/1    the same, but each body compiled once and rendered 4 times (for reference)
    --help     campaign --help

Each command runs under a small wrapper process that times it (time.perf_counter) and reads its
peak memory (getrusage(RUSAGE_CHILDREN).ru_maxrss: the wrapper has no other child). Goals: preview
within 2x of the floor, under 3 s and 300 MB; `campaign --help` under 0.3 s. --profile also runs
the preview's planning once under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import generate

GOAL_RATIO = 2.0
GOAL_SECONDS = 3.0
GOAL_MB = 300.0
GOAL_HELP_SECONDS = 0.3

# Runs argv[1:] with stdout to /dev/null; prints {"seconds", "maxrss_kib", "returncode"}.
WRAPPER = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "returncode": code}))
"""

# The floor: what reading and rendering the same posts costs with the libraries alone.
FLOOR = """\
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import frontmatter
import jinja2
import yaml
from babel.dates import format_datetime

root, once = Path(sys.argv[1]), sys.argv[2:] == ["once"]
zone = ZoneInfo("Europe/Amsterdam")
defaults = yaml.safe_load((root / "posts" / "_defaults.yml").read_text(encoding="utf-8"))
channels = list(yaml.safe_load((root / "channels.yml").read_text(encoding="utf-8"))["channels"])
jinja2.Template("").environment.filters["date"] = lambda value, pattern="EEEE d MMMM": format_datetime(
    value, pattern, locale="nl"
)
count = 0
for path in sorted((root / "posts").rglob("*.md")):
    post = frontmatter.load(path)
    compiled = jinja2.Template(post.content) if once else None
    when = post.get("publish_at")
    date = datetime.fromisoformat(str(when)).replace(tzinfo=zone) if when else datetime(2027, 1, 1, 7, tzinfo=zone)
    for name in channels:
        context = {
            "post": {"id": path.stem, "title": post.get("title"), "path": str(path)},
            "campaign": {"name": defaults["campaign"], "timezone": "Europe/Amsterdam", "language": "nl"},
            "channel": {"name": name, "type": "dryrun", "limit": 500},
            "date": date,
            "vars": defaults["vars"],
            "hashtags": "#WeekTegenKindermishandeling #ikmaakhetverschil",
        }
        count += len((compiled or jinja2.Template(post.content)).render(**context))
print(count)
"""


def campaign_command() -> list[str]:
    script = Path(sys.executable).with_name("campaign")
    return [str(script)] if script.exists() else [sys.executable, "-m", "scheduler"]


def measure(argv: list[str], repeat: int) -> tuple[float, float, int]:
    """Median wall seconds, median peak MB, and the last exit code of `argv` run `repeat` times."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout))
    seconds = statistics.median(r["seconds"] for r in runs)
    megabytes = statistics.median(r["maxrss_kib"] for r in runs) / 1024
    return seconds, megabytes, runs[-1]["returncode"]


def profile(root: Path, top: int = 15) -> None:
    import cProfile
    import pstats

    from scheduler.content.plan import build
    from scheduler.views import preview

    profiler = cProfile.Profile()
    profiler.enable()
    plan = build(root)
    preview.as_json(plan, plan.entries)
    profiler.disable()
    print(f"\ncProfile of build + as_json (cumulative, top {top}):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
    print(f"cProfile (own time, top {top}):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the median counts")
    parser.add_argument("--profile", action="store_true", help="also profile the planning with cProfile")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-content-") as temp:
        root = generate(Path(temp) / "campaign", args.posts)
        floor_script = Path(temp) / "floor.py"
        floor_script.write_text(FLOOR, encoding="utf-8")
        campaign = [*campaign_command(), "--root", str(root)]
        rows = {
            "validate": measure([*campaign, "validate"], args.repeat),
            "preview --format json": measure([*campaign, "preview", "--format", "json"], args.repeat),
            "floor (frontmatter + jinja2)": measure([sys.executable, str(floor_script), str(root)], args.repeat),
            "floor/1 (one compile per post)": measure(
                [sys.executable, str(floor_script), str(root), "once"], args.repeat
            ),
            "campaign --help": measure([*campaign_command(), "--help"], args.repeat),
        }
        if args.profile:
            profile(root)
        shutil.rmtree(root)

    floor = rows["floor (frontmatter + jinja2)"][0]
    print(f"\n{args.posts:,} posts x 4 channels, median of {args.repeat} runs, each a separate process\n")
    print(f"  {'command':<30} {'time':>8} {'peak':>9} {'vs floor':>9}  exit")
    for name, (seconds, megabytes, code) in rows.items():
        ratio = f"{seconds / floor:.2f}x" if name in ("validate", "preview --format json") else ""
        print(f"  {name:<30} {seconds:7.2f}s {megabytes:6.0f} MB {ratio:>9}  {code}")
    preview_s, preview_mb, _ = rows["preview --format json"]
    help_s = rows["campaign --help"][0]
    goals = [
        (f"preview within {GOAL_RATIO:.0f}x of the floor", preview_s <= GOAL_RATIO * floor),
        (f"preview under {GOAL_SECONDS:.0f} s", preview_s < GOAL_SECONDS),
        (f"preview under {GOAL_MB:.0f} MB", preview_mb < GOAL_MB),
        (f"campaign --help under {GOAL_HELP_SECONDS} s", help_s < GOAL_HELP_SECONDS),
    ]
    print()
    for goal, met in goals:
        print(f"  {'met    ' if met else 'NOT met'}  {goal}")


if __name__ == "__main__":
    main()
