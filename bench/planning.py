"""How long export and import take on a big campaign, against `campaign validate` in the same run.

    .venv/bin/python bench/planning.py [--posts 10000] [--repeat 3]

Makes the synthetic campaign of bench/synthetic.py, then times (best of --repeat, wall clock, as a
user runs the commands): validate (the baseline: it plans everything too), export --format csv,
export --format ics, and importing that CSV into an empty campaign with the same channels, followed
by a validate of the result. Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import generate

NOW = {"CAMPAIGN_NOW": "2000-01-01T00:00:00+01:00"}  # everything ahead: no past-due warnings


def campaign(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGN_ROOT", "DATABASE_URL")} | NOW
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return time.perf_counter() - started, result


def best(repeat: int, root: Path, *args: str) -> float:
    times = []
    for _ in range(repeat):
        seconds, result = campaign(root, *args)
        if result.returncode not in (0, 1):
            raise SystemExit(f"campaign {' '.join(args)} failed: {result.stderr[-2000:]}")
        times.append(seconds)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-planning-") as tmp:
        source = generate(Path(tmp) / "source", args.posts)
        sheet, calendar = Path(tmp) / "plan.csv", Path(tmp) / "plan.ics"
        baseline = best(args.repeat, source, "validate")
        csv_time = best(args.repeat, source, "export", "--format", "csv", "-o", str(sheet))
        ics_time = best(args.repeat, source, "export", "--format", "ics", "-o", str(calendar))
        with sheet.open(encoding="utf-8-sig", newline="") as opened:
            rows = sum(1 for _ in csv.reader(opened)) - 1
        imports = []
        for number in range(args.repeat):
            target = Path(tmp) / f"target-{number}"
            (target / "posts").mkdir(parents=True)
            for name in ("channels.yml", "hashtags.yml"):
                shutil.copy(source / name, target / name)
            shutil.copy(source / "posts" / "_defaults.yml", target / "posts" / "_defaults.yml")
            seconds, result = campaign(target, "import", str(sheet))
            if result.returncode != 0:
                raise SystemExit(f"import failed: {result.stderr[-2000:]}")
            imports.append(seconds)
        written = len(list((Path(tmp) / "target-0" / "posts").glob("*.md")))
        load = os.getloadavg()[0]
    print(f"{args.posts:,} posts; best of {args.repeat}; load average {load:.1f}")
    print(f"validate (baseline)        {baseline:6.2f} s")
    print(f"export --format csv        {csv_time:6.2f} s  ({csv_time / baseline:.2f}× validate; {rows:,} rows)")
    print(f"export --format ics        {ics_time:6.2f} s  ({ics_time / baseline:.2f}× validate)")
    print(
        f"import the csv (+ check)   {min(imports):6.2f} s  ({min(imports) / baseline:.2f}× validate; "
        f"{written:,} files written)"
    )


if __name__ == "__main__":
    main()
