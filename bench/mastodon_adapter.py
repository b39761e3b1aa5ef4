"""How much MastodonChannel costs over a plain requests loop, against the fake Mastodon server.

    python bench/mastodon_adapter.py [--posts 1000] [--rounds 3] [--latency-ms 0]

Both sides post the same payloads (text, visibility, language, Authorization, Idempotency-Key)
over one kept-alive session to the same server, which runs in a child process so that its
threads do not compete with the client for the GIL. Rounds alternate which side goes first;
the best round of each counts. Goal: the adapter within 1.3x of the plain loop.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.fakes` lives in the repo

from scheduler.channels.mastodon import MastodonChannel
from scheduler.posts import RenderedPost
from tests.fakes.mastodon_server import TOKEN, FakeMastodon

TEXT = (
    "Week {n}: praat erover. Eén op de drie kinderen krijgt te maken met geweld thuis. "
    "Zie je iets, zeg iets: https://example.org/hulp #kindermishandeling #weekvandeopvoeding"
)


def serve(latency_ms: float, pipe: Connection) -> None:
    with FakeMastodon(latency_ms=latency_ms) as server:
        pipe.send(server.url)
        pipe.recv()  # until told to stop


def through_adapter(url: str, texts: list[str], tag: str) -> set[str]:
    channel = MastodonChannel("bench", {"instance": url, "token": TOKEN})
    try:
        ids = set()
        for number, text in enumerate(texts):
            post = RenderedPost(post=f"bench/{number}", channel="bench", text=text)
            receipt = channel.publish(post, key=f"{tag}-{number}")
            ids.add(receipt.remote_id or "")
        return ids
    finally:
        channel.close()


def plain_loop(url: str, texts: list[str], tag: str) -> set[str]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        ids = set()
        for number, text in enumerate(texts):
            form = [("status", text), ("visibility", "public"), ("language", "nl")]
            response = session.post(
                f"{url}/api/v1/statuses",
                data=form,
                headers={"Idempotency-Key": f"{tag}-{number}"},
                timeout=(5, 30),
            )
            response.raise_for_status()
            ids.add(response.json()["id"])
        return ids


Run = Callable[[str, list[str], str], set[str]]


def timed(run: Run, url: str, texts: list[str], tag: str) -> float:
    start = time.perf_counter()
    ids = run(url, texts, tag)
    elapsed = time.perf_counter() - start
    assert len(ids) == len(texts), f"{run.__name__} made {len(ids)} statuses for {len(texts)} posts"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="server delay per request")
    args = parser.parse_args()

    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=serve, args=(args.latency_ms, theirs), daemon=True)
    child.start()
    url = ours.recv()
    texts = [TEXT.format(n=number) for number in range(args.posts)]
    warm = texts[:50]
    timed(through_adapter, url, warm, "warm-a")
    timed(plain_loop, url, warm, "warm-p")

    adapter_times: list[float] = []
    plain_times: list[float] = []
    for round_number in range(args.rounds):
        runs = [("a", through_adapter, adapter_times), ("p", plain_loop, plain_times)]
        for tag, run, times in runs if round_number % 2 == 0 else runs[::-1]:
            times.append(timed(run, url, texts, f"r{round_number}-{tag}"))
    ours.send("stop")
    child.join(timeout=10)

    adapter, plain = min(adapter_times), min(plain_times)
    print(f"posts per run:   {args.posts} (best of {args.rounds} rounds, server latency {args.latency_ms:g} ms)")
    print(f"MastodonChannel: {adapter:.3f} s  ({adapter / args.posts * 1000:.3f} ms/post)")
    print(f"plain requests:  {plain:.3f} s  ({plain / args.posts * 1000:.3f} ms/post)")
    print(f"ratio:           {adapter / plain:.2f}x  (goal <= 1.30x)")


if __name__ == "__main__":
    main()
