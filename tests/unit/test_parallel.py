"""Work spread over forked workers: same results, same order, and a safe way back to one process."""

from __future__ import annotations

import os
import threading
import time

import pytest

from scheduler.content import parallel
from scheduler.content.parallel import map_forked, workers_for

PARENT = os.getpid()


def slow_pid(_: int) -> int:
    time.sleep(0.1)
    return os.getpid()


@pytest.fixture
def forking_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest may hold threads of its own (earlier tests' servers); forking is fine for these pure functions."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs")
    monkeypatch.setattr(parallel, "_safe_to_fork", lambda: True)


@pytest.mark.usefixtures("forking_allowed")
def test_results_come_back_in_order_from_forked_workers() -> None:
    results = map_forked(lambda n: n * 2, range(3_000))
    assert results == [n * 2 for n in range(3_000)]
    pids = set(map_forked(slow_pid, range(8), min_items=1))
    assert len(pids) >= 2 and PARENT not in pids


@pytest.mark.usefixtures("forking_allowed")
def test_the_function_and_its_inputs_are_inherited_not_pickled() -> None:
    lock = threading.Lock()  # cannot be pickled
    items = [lock] * 2_000
    assert map_forked(lambda held: isinstance(held, type(lock)), items) == [True] * 2_000


@pytest.mark.usefixtures("forking_allowed")
def test_a_worker_that_dies_leaves_the_work_to_this_process() -> None:
    def fragile(n: int) -> tuple[int, int]:
        if os.getpid() != PARENT:
            os._exit(3)  # as a crash in a C extension would
        return n, os.getpid()

    assert map_forked(fragile, range(2_000)) == [(n, PARENT) for n in range(2_000)]


def test_small_inputs_stay_in_this_process() -> None:
    assert workers_for(10) == 1
    assert map_forked(lambda n: os.getpid(), range(10)) == [PARENT] * 10


def test_another_running_thread_keeps_the_work_in_this_process() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert workers_for(1_000_000) == 1
    finally:
        stop.set()
        thread.join()


@pytest.mark.usefixtures("forking_allowed")
def test_campaign_processes_sets_the_number_and_1_means_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGN_PROCESSES", "3")
    assert workers_for(5_000) == 3
    pids = set(map_forked(slow_pid, range(12), min_items=1))  # 12 chunks of 0.1 s: every worker gets some
    assert len(pids) == 3 and PARENT not in pids
    monkeypatch.setenv("CAMPAIGN_PROCESSES", "1")
    assert map_forked(lambda _: os.getpid(), range(5_000)) == [PARENT] * 5_000
