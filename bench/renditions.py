"""What images that fit cost `campaign validate`: the first run makes every rendition, the next finds them.

    .venv/bin/python bench/renditions.py [--photos 10] [--size 3000x2000]

Makes a campaign of --photos posts, each with its own photo (made by Pillow: hard-to-compress noise,
the worst case, with GPS EXIF) on five channels like bluesky, mastodon, x, facebook and telegram; then
times `validate` with an empty cache, twice more with the cache filled, and once on the same campaign
without its images (the baseline). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.builders import write_campaign
from tests.fakes.images import photo

NETWORKS = ("bluesky", "mastodon", "x", "facebook", "telegram")


def validate(root: Path, cache: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGN_ROOT", "DATABASE_URL")}
    env["CAMPAIGN_CACHE_DIR"] = str(cache)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--root", str(root), "validate"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    return elapsed


def make(root: Path, photos: int, size: tuple[int, int], with_images: bool) -> None:
    channels = "channels:\n" + "".join(f"  {n}: {{type: dryrun, like: {n}}}\n" for n in NETWORKS)
    posts = {}
    for n in range(photos):
        media = f"media:\n  - {{path: media/foto{n}.jpg, alt: Een foto}}\n" if with_images else ""
        posts[f"p{n}.md"] = (
            f"---\npublish_at: 2027-11-{15 + n % 5} 09:{n % 60:02d}\n"
            f"channels: [{', '.join(NETWORKS)}]\n{media}---\nPraat erover {n}.\n"
        )
    write_campaign(root, posts, channels=channels)
    if with_images:
        (root / "media").mkdir()
        for n in range(photos):
            photo(root / "media" / f"foto{n}.jpg", size, noise=True, quality=92)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--size", default="3000x2000")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="bench-renditions-"))
    try:
        make(work / "with", args.photos, (width, height), True)
        make(work / "without", args.photos, (width, height), False)
        source = sum(p.stat().st_size for p in (work / "with" / "media").iterdir())
        cache = work / "cache"
        cold = validate(work / "with", cache)
        warm = min(validate(work / "with", cache) for _ in range(2))
        base = min(validate(work / "without", cache) for _ in range(2))
        made = [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".json"]
        print(f"{args.photos} photos of {width}×{height} ({source / 1e6:.1f} MB) × {len(NETWORKS)} networks")
        each = cold / len(made) if made else 0.0
        print(f"validate, empty cache:  {cold:6.2f} s  ({len(made)} renditions, {each:.2f} s each)")
        print(f"validate, cache filled: {warm:6.2f} s")
        print(f"validate, no images:    {base:6.2f} s  (cache hits cost {warm - base:+.2f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
