"""The lateness of text posts due while a ~100 MB video uploads to a slow server, with and without the
upload lane, in one run. Prints figures, never asserts.

    .venv/bin/python bench/uploads.py [--mb 95] [--rate 2] [--posts 60] [--every 1] [--keep]

The real daemon (`campaign run`, SQLite, 1 worker) on a campaign with one post carrying a video of
--mb MiB (a small PyAV video padded with an MP4 `free` box, so it passes `validate` for Mastodon) to
the fake Mastodon in a process of its own that reads request bodies at --rate MB/s (10^6 bytes), and
--posts text posts on a dry-run channel due every --every seconds from just after the video's time.
Each text post's lateness is its recorded publication minus its due time (the ledger's). Two rounds:

    lane off  CAMPAIGN_UPLOAD_WORKERS=0: the video is sent in turn with the rest (the code before the lane)
    lane on   CAMPAIGN_UPLOAD_WORKERS=1 (the default)

Goal (issue #21): p99 < 0.5 s with the lane. Every child process is stopped on the way out.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` and `tests` live in the repo

from bench.daemon import Children, at, load, running, spread, tail, wait_until, workdir
from scheduler.publish.ledger import Ledger, database_url
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.videos import make_video, pad_video, write_vtt

LEAD = 10.0  # seconds from launch to the video's time: the daemon starts and syncs first


def serve(rate: float, pipe: Connection) -> None:
    """The fake Mastodon in a process of its own, reading bodies at `rate` bytes/s; `stats` → counts."""
    with FakeMastodon() as server:
        server.upload_rate = rate
        server.video_size_limit = 200 * 1024 * 1024
        pipe.send(server.url)
        while pipe.recv() != "stop":
            with server.lock:
                pipe.send({"statuses": len(server.statuses), "uploads": len(server.uploads)})


@contextmanager
def slow_mastodon(rate: float) -> Iterator[tuple[str, Callable[[], dict[str, int]]]]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve, args=(rate, theirs), daemon=True)
    child.start()
    try:
        if not ours.poll(30):
            raise TimeoutError("the fake Mastodon did not start")

        def stats() -> dict[str, int]:
            ours.send("stats")
            if not ours.poll(30):
                raise TimeoutError("the fake Mastodon did not answer")
            counts: dict[str, int] = ours.recv()
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


def padded_video(path: Path, mib: float) -> int:
    """A 2-second H.264 video padded to `mib` MiB with a trailing `free` box (players and PyAV skip it)."""
    return pad_video(make_video(path, seconds=2.0), int(mib * 1024 * 1024)).stat().st_size


def write_campaign(root: Path, url: str, mib: float, video_due: datetime, texts: dict[str, datetime]) -> int:
    (root / "posts").mkdir(parents=True)
    (root / "channels.yml").write_text(
        f"channels:\n  mastodon: {{type: mastodon, instance: '{url}', token: '${{MASTODON_TOKEN}}', "
        "media_timeout: 600}\n"
        "  dry: {type: dryrun, like: mastodon}\n",
        encoding="utf-8",
    )
    (root / "posts" / "_defaults.yml").write_text(
        "campaign: Bench\ntimezone: Europe/Amsterdam\nchannels: [dry]\n", encoding="utf-8"
    )
    size = padded_video(root / "media" / "tip.mp4", mib)
    write_vtt(root / "media" / "tip.nl.vtt", ("00:00:00.000", "00:00:01.800", "Praat erover."))
    (root / "posts" / "video.md").write_text(
        f"---\npublish_at: {at(video_due)}\nchannels: [mastodon]\nmedia:\n  - path: media/tip.mp4\n"
        "    alt: Kim legt uit waar je terecht kunt.\n    captions: {nl: tip.nl.vtt}\n---\nDe tip van vandaag.\n",
        encoding="utf-8",
    )
    for number, (name, due) in enumerate(texts.items()):
        (root / "posts" / f"{name}.md").write_text(
            f"---\npublish_at: {at(due)}\n---\nBericht {number}: praat erover, zie je iets, zeg iets.\n",
            encoding="utf-8",
        )
    return size


def one_round(label: str, lane: int, args: argparse.Namespace) -> None:
    rate = args.rate * 1_000_000
    with workdir(f"uploads-{lane}", args.keep) as root, slow_mastodon(rate) as (url, stats), Children() as children:
        launched = datetime.now(UTC)
        video_due = launched + timedelta(seconds=LEAD)
        texts = {f"t{i:03d}": video_due + timedelta(seconds=0.5 + args.every * i) for i in range(args.posts)}
        size = write_campaign(root, url, args.mb, video_due, texts)
        log = root / "daemon.log"
        began = load()
        process = children.daemon(root, log=log, MASTODON_TOKEN=TOKEN, CAMPAIGN_UPLOAD_WORKERS=str(lane))
        names = set(texts) | {"video"}

        def done() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the daemon exited with {process.returncode}:\n{tail(log)}")
            book = Ledger(database_url(None, root))
            try:
                return {r.post for r in book.views.rows() if r.state == "published"} >= names
            finally:
                book.close()

        ready = wait_until(running(process, log), 60, "the daemon to start")
        if ready > LEAD:
            print(f"  WARNING: the daemon took {ready:.1f} s to start, after the video's time")
        upload = size / rate
        wait_until(done, LEAD + upload + args.posts * args.every + 180, "every post published", 0.5)
        code = children.stop(process)
        book = Ledger(database_url(None, root))
        try:
            rows = {r.post: r for r in book.views.rows()}
            tries = Counter(a.post for a in book.views.history() if a.outcome == "published")
        finally:
            book.close()
        counts = stats()
    late = [
        (published - rows[name].due) / timedelta(milliseconds=1)
        for name in texts
        if (published := rows[name].published_at) is not None
    ]
    video = rows["video"]
    took = (video.published_at - video.due).total_seconds() if video.published_at else float("nan")
    print(
        f"  {label} (CAMPAIGN_UPLOAD_WORKERS={lane}): video {size / 1e6:.1f} MB published {took:.1f} s after its time"
    )
    print(f"    text posts' lateness: {spread(late)}   (goal p99 < 500 ms)")
    print(
        f"    each once: {set(tries.values()) == {1} and len(tries) == len(names)}; server: {counts['statuses']} "
        f"status(es), {counts['uploads']} upload(s); exit code {code} after SIGTERM"
    )
    print(f"    {began} → {load()}")


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the children


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mb", type=float, default=95.0, help="the video's size in MiB (Mastodon: at most 99)")
    parser.add_argument("--rate", type=float, default=2.0, help="the server's upload speed in MB/s")
    parser.add_argument("--posts", type=int, default=60, help="text posts due during the upload")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between text posts")
    parser.add_argument("--keep", action="store_true", help="keep each campaign, ledger and daemon log")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    print(f"uploads: a {args.mb:g} MiB video at {args.rate:g} MB/s; {args.posts} text posts every {args.every:g} s")
    one_round("lane off", 0, args)
    one_round("lane on ", 1, args)


if __name__ == "__main__":
    main()
