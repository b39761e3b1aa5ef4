"""The file watcher, with real files, real threads and the kernel's change notification."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.publish import watch
from scheduler.publish.watch import CHECK, Watcher


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    (tmp_path / "posts" / "tips").mkdir(parents=True)
    (tmp_path / "posts" / "tips" / "01.md").write_text("Eén.\n")
    (tmp_path / "channels.yml").write_text("channels: {}\n")
    return tmp_path


class Seen:
    """What the watcher asked for: changes in `calls`, plans without a notification in `checks`."""

    def __init__(self, root: Path) -> None:
        self.calls: queue.Queue[str] = queue.Queue()
        self.checks: queue.Queue[float] = queue.Queue()
        self.stop = threading.Event()
        self.watcher = Watcher(root, self.stop, self._called)

    def _called(self, what: str) -> None:
        if what == CHECK:
            self.checks.put(time.monotonic())
        else:
            self.calls.put(what)

    def next(self, timeout: float = 10) -> str:
        return self.calls.get(timeout=timeout)

    def quiet(self, seconds: float = 2.5) -> bool:
        try:
            self.calls.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def seen(campaign: Path) -> Iterator[Seen]:
    result = Seen(campaign)
    yield result
    result.stop.set()


def replace(path: Path, text: str) -> None:
    """Write the way editors and git do: a new file renamed over the old one."""
    new = path.with_suffix(".new")
    new.write_text(text)
    os.replace(new, path)


def test_once_live_and_then_every_so_often_the_watcher_asks_for_a_plan_without_a_notification(
    campaign: Path, seen: Seen, monkeypatch: pytest.MonkeyPatch
) -> None:
    # That plan (a cached build: it reads what changed by stat) catches an edit made before the
    # watchers were live, and what no notification reports.
    monkeypatch.setattr(watch, "CHECK_EVERY", 0.5)
    started = time.monotonic()
    seen.watcher.start()
    first = seen.checks.get(timeout=10)
    again = [seen.checks.get(timeout=10) for _ in range(3)]
    assert first - started < 5
    assert again[-1] - first >= 0.5
    assert seen.calls.empty()  # no change was reported as one


def test_channels_yml_replaced_again_and_again_is_noticed_every_time(campaign: Path, seen: Seen) -> None:
    seen.watcher.start()
    assert seen.quiet()
    for i in range(3):
        replace(campaign / "channels.yml", f"channels: {{c{i}: {{type: dryrun}}}}\n")
        assert "channels.yml" in seen.next()
        assert seen.quiet(1.5)


def test_posts_in_new_folders_are_noticed(campaign: Path, seen: Seen) -> None:
    seen.watcher.start()
    assert seen.quiet()
    (campaign / "posts" / "verhalen" / "2027").mkdir(parents=True)
    (campaign / "posts" / "verhalen" / "2027" / "01.md").write_text("Verhaal.\n")
    assert "posts/verhalen" in seen.next()
    assert seen.quiet(1.5)
    (campaign / "posts" / "verhalen" / "2027" / "01.md").write_text("Verhaal, herschreven.\n")
    assert "posts/verhalen/2027/01.md" in seen.next()


def test_other_files_in_the_root_such_as_the_ledger_are_ignored(campaign: Path, seen: Seen) -> None:
    seen.watcher.start()
    assert seen.quiet()
    for _ in range(3):
        with (campaign / "campaign.db-wal").open("a") as wal:
            wal.write("x" * 100)
    assert seen.quiet()
