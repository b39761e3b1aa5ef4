"""Independent work spread over the CPU's cores, for big campaigns on the command line.

Forked workers inherit the parent's memory copy-on-write, so the work and its inputs are never
pickled: only chunk numbers go out, and only results come back. Forking is safe only in a
process without other threads, on a platform that forks well (Linux); elsewhere, for small
inputs, or when a worker fails, the work is done here, in order, with the same results.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from scheduler import settings

log = logging.getLogger("scheduler.content.parallel")
T = TypeVar("T")
R = TypeVar("R")
MAX_PROCESSES = 8  # by default; CAMPAIGN_PROCESSES sets any number
MIN_ITEMS = 1_000  # below this, starting workers costs more than it saves
CHUNKS_PER_WORKER = 4  # smaller chunks even out slow ones

# What the forked workers do: set just before they are forked, so they inherit it.
_work: tuple[Callable[[Any], Any], Sequence[Any], list[range]] | None = None


def workers_for(count: int, min_items: int = MIN_ITEMS) -> int:
    """How many processes `count` items are worth here; 1 means: do it in this process."""
    if count < min_items or not _safe_to_fork():
        return 1
    if settings.get("CAMPAIGN_PROCESSES"):
        return max(1, settings.get_int("CAMPAIGN_PROCESSES"))
    return min(len(os.sched_getaffinity(0)), MAX_PROCESSES)


def _safe_to_fork() -> bool:
    # A thread holding a lock at the fork leaves it locked forever in the child.
    return sys.platform.startswith("linux") and threading.active_count() == 1


def map_forked(function: Callable[[T], R], items: Sequence[T], *, min_items: int = MIN_ITEMS) -> list[R]:
    """`[function(item) for item in items]`, spread over the CPU's cores when that pays.

    `function` may be a closure: it is inherited by the workers, not pickled. Its results are pickled.
    """
    global _work
    workers = workers_for(len(items), min_items)
    if workers < 2:
        return [function(item) for item in items]
    chunks = _chunks(len(items), workers * CHUNKS_PER_WORKER)
    log.debug("spreading %d items over %d processes", len(items), workers)
    _work = (function, items, chunks)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_run_chunk, range(len(chunks))))
    except Exception as exc:  # a worker died (BrokenProcessPool), a result would not pickle, ...
        log.warning("parallel work failed (%s: %s); doing it in one process", exc.__class__.__name__, exc)
        return [function(item) for item in items]
    finally:
        _work = None
    return [result for part in parts for result in part]


def _chunks(count: int, wanted: int) -> list[range]:
    size = -(-count // wanted)
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _run_chunk(number: int) -> list[Any]:
    assert _work is not None, "run only in a forked worker"
    function, items, chunks = _work
    return [function(items[i]) for i in chunks[number]]
