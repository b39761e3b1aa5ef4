"""What a send's fingerprint covers (scheduler.publish.fingerprint): a restarted daemon sends from the
ledger before planning only when it is unchanged, so each file that can change a send must change it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from scheduler.publish.fingerprint import Fingerprints

POST = "posts/week/a.md"
SERIES = "posts/reeks/_defaults.yml"
MEMBER = "posts/reeks/deel/b.md"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = {
        "channels.yml": "channels:\n  m: {type: dryrun, like: mastodon}\n",
        "hashtags.yml": "sets: {a: ['#A']}\n",
        "posts/_defaults.yml": "channels: [m]\n",
        "posts/week/_defaults.yml": "vars: {x: 1}\n",
        POST: "---\npublish_at: 2030-01-01 10:00\n---\nA.\n",
        "posts/week/c.md": "---\npublish_at: 2030-01-01 11:00\n---\nC.\n",
        "posts/elders/d.md": "---\npublish_at: 2030-01-01 12:00\n---\nD.\n",
        SERIES: "schedule:\n  start: 2030-01-01 09:00\n  every: 1 day\n",
        MEMBER: "---\ntitle: B\n---\nB.\n",
        "posts/reeks/e.md": "---\ntitle: E\n---\nE.\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def now(root: Path, path: str = POST, series: str | None = None) -> str | None:
    prints = Fingerprints(root, None)
    return Fingerprints.combine(prints.post(path), prints.context(path, series), series)


@pytest.mark.parametrize(
    ("change", "path", "series"),
    [
        ("posts/week/a.md", POST, None),
        ("posts/week/_defaults.yml", POST, None),
        ("posts/_defaults.yml", POST, None),
        ("channels.yml", POST, None),
        ("hashtags.yml", POST, None),
        ("watchlist.yml", POST, None),
        ("posts/week/new.md", POST, None),  # a file added to its folder (a series would move)
        ("posts/reeks/e.md", MEMBER, SERIES),  # another member of its series
        ("posts/reeks/new/f.md", MEMBER, SERIES),  # a member added in another folder of the series
    ],
)
def test_a_file_a_send_depends_on_changes_its_fingerprint(
    root: Path, change: str, path: str, series: str | None
) -> None:
    before = now(root, path, series)
    assert before is not None and before == now(root, path, series)
    (root / change).parent.mkdir(parents=True, exist_ok=True)
    with (root / change).open("a", encoding="utf-8") as file:
        file.write("# veranderd\n")
    assert now(root, path, series) != before


def test_a_post_added_elsewhere_or_a_file_rewritten_as_it_was_changes_nothing(root: Path) -> None:
    before = now(root)
    (root / "posts" / "elders" / "nieuw.md").write_text("---\npublish_at: 2030-02-01 10:00\n---\nN.\n")
    (root / POST).write_text((root / POST).read_text(encoding="utf-8"), encoding="utf-8")  # a fresh checkout
    assert now(root) == before


def test_a_deleted_post_has_another_fingerprint(root: Path) -> None:
    before = now(root)
    (root / POST).unlink()
    assert now(root) != before


def test_files_younger_than_the_plan_give_no_fingerprint(root: Path) -> None:
    """The bytes hashed must be those the plan read: a file written within the file system's time-stamp
    granularity before the plan began (or after) may not be, so that send gets none."""
    just_now = Fingerprints(root, time.time_ns())
    assert just_now.post(POST) is None
    assert just_now.context(POST, None) is None
    later = Fingerprints(root, time.time_ns() + 3_000_000_000)  # a plan that began 3 s after the writes
    assert later.post(POST) is not None and later.context(POST, None) is not None
    older = time.time() - 60
    os.utime(root / POST, (older, older))  # mtime in the past does not hide a recent change (ctime)
    assert Fingerprints(root, time.time_ns()).post(POST) is None
