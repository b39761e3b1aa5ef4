"""A build with a cache (scheduler.content.cache) is always the plan a fresh build makes."""

from __future__ import annotations

import io
import itertools
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from scheduler.content import cache as cache_module
from scheduler.content.cache import PlanCache
from scheduler.content.plan import build

CHANNELS = "channels:\n  mastodon: {type: dryrun, like: mastodon}\n  bluesky: {type: dryrun, like: bluesky}\n"
HASHTAGS = "sets:\n  week: ['#WeekTegenKindermishandeling']\n  extra: ['#Extra']\ndefault: [week]\n"
_stamps = itertools.count(1_600_000_000)  # a distinct whole second per write, long past


def write(root: Path, relative: str, text: str | bytes) -> None:
    """Write a file and give it a modification time of its own, long past (settled for the cache)."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    stamp = next(_stamps) * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def campaign(root: Path) -> None:
    write(root, "channels.yml", CHANNELS)
    write(root, "hashtags.yml", HASHTAGS)
    write(root, "posts/_defaults.yml", "campaign: Test\ntimezone: Europe/Amsterdam\nchannels: [mastodon, bluesky]\n")
    write(root, "media/a.png", _png((4, 3)))
    write(root, "posts/a.md", "---\npublish_at: 2027-11-15 10:00\n---\nPost A {{ date | date('EEEE') }}.\n")
    write(
        root,
        "posts/b.md",
        "---\npublish_at: 2027-11-15 11:00\nmedia: [{path: media/a.png, alt: Een plaatje}]\n---\nPost B.\n",
    )
    write(root, "posts/tips/_defaults.yml", "schedule: {start: 2027-11-16 09:00, every: 1 day}\n")
    for n in (1, 2, 3):
        write(root, f"posts/tips/{n:02d}.md", f"---\ntitle: Tip {n}\n---\nTip {n}: praat erover.\n")


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as settled: each write in these tests has a modification time of its own."""
    monkeypatch.setattr(cache_module, "RACY_NS", 0)


def same_as_fresh(root: Path, cache: PlanCache) -> None:
    cached, fresh = build(root, cache=cache), build(root)
    assert cached.problems == fresh.problems
    assert cached.entries == fresh.entries
    assert cached == fresh


def remove_posts(root: Path) -> None:
    for path in root.glob("posts/**/*.*"):
        path.unlink()


STEPS: list[tuple[str, Callable[[Path], object]]] = [
    ("edit a post", lambda r: write(r, "posts/a.md", "---\npublish_at: 2027-11-15 10:00\n---\nPost A, edited.\n")),
    ("edit without changing the size", lambda r: write(r, "posts/a.md", (r / "posts/a.md").read_text().upper())),
    ("add a post", lambda r: write(r, "posts/c.md", "---\npublish_at: 2027-11-15 12:00\n---\nPost C.\n")),
    ("add a series member", lambda r: write(r, "posts/tips/00.md", "---\ntitle: Tip 0\n---\nTip 0 first.\n")),
    ("rename a series member", lambda r: (r / "posts/tips/02.md").rename(r / "posts/tips/09.md")),
    ("delete a post", lambda r: (r / "posts/c.md").unlink()),
    ("break a post", lambda r: write(r, "posts/a.md", "---\npublish_at: [\n---\nBroken.\n")),
    ("fix it", lambda r: write(r, "posts/a.md", "---\npublish_at: 2027-11-15 10:30\n---\nPost A again.\n")),
    (
        "move the series",
        lambda r: write(r, "posts/tips/_defaults.yml", "schedule: {start: 2027-11-20 08:00, every: 2 days}\n"),
    ),
    ("break a folder's defaults", lambda r: write(r, "posts/tips/_defaults.yml", "schedule: [\n")),
    ("fix it", lambda r: write(r, "posts/tips/_defaults.yml", "schedule: {start: 2027-11-16 09:00, every: 1 day}\n")),
    (
        "change the time zone",
        lambda r: write(r, "posts/_defaults.yml", "timezone: Europe/London\nchannels: [mastodon]\n"),
    ),
    (
        "change the default tags",
        lambda r: write(r, "hashtags.yml", HASHTAGS.replace("default: [week]", "default: [extra]")),
    ),
    ("break hashtags.yml", lambda r: write(r, "hashtags.yml", "sets:\n\tweek: x\n")),
    ("remove hashtags.yml", lambda r: (r / "hashtags.yml").unlink()),
    ("name another channel", lambda r: write(r, "posts/_defaults.yml", "channels: [mastodon, bluesky, x]\n")),
    ("add that channel", lambda r: write(r, "channels.yml", CHANNELS + "  x: {type: dryrun, like: x}\n")),
    (
        "change a channel's type",
        lambda r: write(
            r, "channels.yml", CHANNELS.replace("like: bluesky", "like: telegram") + "  x: {type: dryrun, like: x}\n"
        ),
    ),
    ("break a channel's entry", lambda r: write(r, "channels.yml", CHANNELS + "  x: nothing\n")),
    ("change a media file", lambda r: write(r, "media/a.png", _png((5, 4)))),
    ("remove the media file", lambda r: (r / "media/a.png").unlink()),
    ("make a post a draft", lambda r: write(r, "posts/tips/01.md", "---\ndraft: true\n---\nTip 1.\n")),
    (
        "give two posts one id",
        lambda r: write(r, "posts/a.md", "---\nid: tips/03\npublish_at: 2027-11-15 10:30\n---\nA.\n"),
    ),
    (
        "repeat a text",
        lambda r: write(r, "posts/a.md", "---\npublish_at: 2027-11-15 10:30\n---\nTip 3: praat erover.\n"),
    ),
    (
        "allow the repeat",
        lambda r: write(
            r, "posts/a.md", "---\npublish_at: 2027-11-15 10:30\nallow_repeat: true\n---\nTip 3: praat erover.\n"
        ),
    ),
    ("same minute as another", lambda r: write(r, "posts/a.md", "---\npublish_at: 2027-11-15 11:00\n---\nAnders.\n")),
    (
        "a third in that minute",
        lambda r: write(r, "posts/0.md", "---\npublish_at: 2027-11-15 11:00:30\n---\nNul.\n"),
    ),
    ("move the first of them away", lambda r: write(r, "posts/a.md", "---\npublish_at: 2027-11-15 12:00\n---\nA.\n")),
    ("remove the posts", remove_posts),
]


def test_a_cached_build_equals_a_fresh_one_after_every_kind_of_change(tmp_path: Path, settled: None) -> None:
    campaign(tmp_path)
    cache = PlanCache()
    same_as_fresh(tmp_path, cache)
    for what, step in STEPS:
        step(tmp_path)
        try:
            same_as_fresh(tmp_path, cache)
        except AssertionError as exc:
            raise AssertionError(f"after '{what}': {exc}") from None


def test_a_file_edited_twice_within_the_racy_window_is_read_again(tmp_path: Path) -> None:
    campaign(tmp_path)
    cache = PlanCache()
    path = tmp_path / "posts/a.md"
    stamp = path.stat().st_mtime_ns
    same_as_fresh(tmp_path, cache)
    for word in ("Post Z", "Post Y"):  # same size, same modification time, within the same second
        text = path.read_text()
        path.write_text(text[:37] + word + text[43:], encoding="utf-8")
        os.utime(path, ns=(stamp, stamp))
        same_as_fresh(tmp_path, cache)
        assert any(word in (e.post.text if e.post else "") for e in build(tmp_path, cache=cache).entries)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, len(STEPS) - 1), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_any_sequence_of_changes_keeps_the_cached_build_fresh(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int], rng: random.Random
) -> None:
    root = tmp_path_factory.mktemp("campaign")
    original = cache_module.RACY_NS
    cache_module.RACY_NS = 0
    try:
        campaign(root)
        cache = PlanCache()
        build(root, cache=cache)
        for index in steps:
            try:
                STEPS[index][1](root)
            except OSError:
                continue  # the file that step changes is gone already
            if rng.random() < 0.7:  # sometimes two changes before the next build
                same_as_fresh(root, cache)
        same_as_fresh(root, cache)
    finally:
        cache_module.RACY_NS = original


def test_the_cache_counts_the_files_it_could_not_keep_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The daemon reads such files again once they are old enough (its warm-up), not at the first edit.
    campaign(tmp_path)
    cache = PlanCache()
    build(tmp_path, cache=cache)
    assert cache.unsettled > 0  # just written: within the racy window
    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # as if the window had passed
    build(tmp_path, cache=cache)
    assert cache.unsettled == 0


def _png(size: tuple[int, int]) -> bytes:
    """A real (tiny) PNG: renditions read every image a post carries."""
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, "PNG")
    return out.getvalue()
