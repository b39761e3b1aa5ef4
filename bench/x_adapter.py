"""How much XChannel costs over a plain loop of OAuth 1.0a signed requests, against the fake X server.

    python bench/x_adapter.py [--posts 1000] [--rounds 3] [--latency-ms 0]

Both sides post the same JSON bodies to POST /2/tweets, signed with the same keys by
requests-oauthlib, over one kept-alive session to the same server (which verifies every
signature), running in a child process so that its threads do not compete with the client for
the GIL. The adapter also checks the text's weighted length and asks for the account once. Rounds
alternate which side goes first; the best round of each counts. Goal: the adapter within 1.3x of
the plain loop.
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
from requests_oauthlib import OAuth1

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.fakes` lives in the repo

from scheduler.channels.x import XChannel
from scheduler.posts import RenderedPost
from tests.fakes.x_server import ACCESS_TOKEN, ACCESS_TOKEN_SECRET, CONSUMER_KEY, CONSUMER_SECRET, FakeX

TEXT = (
    "Week {n}: praat erover. Eén op de drie kinderen krijgt te maken met geweld thuis. "
    "https://example.org/hulp #kindermishandeling"
)
KEYS = {
    "consumer_key": CONSUMER_KEY,
    "consumer_secret": CONSUMER_SECRET,
    "access_token": ACCESS_TOKEN,
    "access_token_secret": ACCESS_TOKEN_SECRET,
}


def serve(latency_ms: float, pipe: Connection) -> None:
    with FakeX(latency_ms=latency_ms) as server:
        pipe.send(server.url)
        pipe.recv()  # until told to stop


def through_adapter(url: str, texts: list[str]) -> set[str]:
    channel = XChannel("bench", {"api": url, **KEYS})
    try:
        ids = set()
        for number, text in enumerate(texts):
            receipt = channel.publish(RenderedPost(post=f"bench/{number}", channel="bench", text=text), key=str(number))
            ids.add(receipt.remote_id or "")
        return ids
    finally:
        channel.close()


def plain_loop(url: str, texts: list[str]) -> set[str]:
    with requests.Session() as session:
        session.auth = OAuth1(
            CONSUMER_KEY,
            client_secret=CONSUMER_SECRET,
            resource_owner_key=ACCESS_TOKEN,
            resource_owner_secret=ACCESS_TOKEN_SECRET,
        )
        ids = set()
        for text in texts:
            response = session.post(f"{url}/2/tweets", json={"text": text}, timeout=(5, 30))
            response.raise_for_status()
            ids.add(response.json()["data"]["id"])
        return ids


Run = Callable[[str, list[str]], set[str]]


def timed(run: Run, url: str, texts: list[str]) -> float:
    start = time.perf_counter()
    ids = run(url, texts)
    elapsed = time.perf_counter() - start
    assert len(ids) == len(texts), f"{run.__name__} made {len(ids)} posts for {len(texts)}"
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
    # X refuses a text the account already posted, so every run gets texts of its own.
    batch = iter(range(10**9))

    def texts(count: int) -> list[str]:
        tag = next(batch)
        return [TEXT.format(n=f"{tag}.{number}") for number in range(count)]

    timed(through_adapter, url, texts(50))
    timed(plain_loop, url, texts(50))

    adapter_times: list[float] = []
    plain_times: list[float] = []
    for round_number in range(args.rounds):
        runs = [(through_adapter, adapter_times), (plain_loop, plain_times)]
        for run, times in runs if round_number % 2 == 0 else runs[::-1]:
            times.append(timed(run, url, texts(args.posts)))
    ours.send("stop")
    child.join(timeout=10)

    adapter, plain = min(adapter_times), min(plain_times)
    print(f"posts per run:   {args.posts} (best of {args.rounds} rounds, server latency {args.latency_ms:g} ms)")
    print(f"XChannel:        {adapter:.3f} s  ({adapter / args.posts * 1000:.3f} ms/post)")
    print(f"plain signed:    {plain:.3f} s  ({plain / args.posts * 1000:.3f} ms/post)")
    print(f"ratio:           {adapter / plain:.2f}x  (goal <= 1.30x)")


if __name__ == "__main__":
    main()
