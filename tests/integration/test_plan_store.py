"""`campaign validate` and `campaign preview` with the store of CAMPAIGN_CACHE_DIR/plans (scheduler.content.stored),
as a CI job runs them with that folder kept between runs: the output is always the one a run without it gives."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from scheduler.content.cache import RACY_NS
from scheduler.content.plan import build
from scheduler.content.stored import Store
from tests.builders import run_campaign, write_campaign

NOW = "2027-01-01T00:00:00+01:00"  # everything ahead
HASHTAGS = """\
sets:
  week: ["#WeekTegenKindermishandeling", "#ikmaakhetverschil"]
default: [week]
limits: {bluesky: 3}
lowercase_ok: [ikmaakhetverschil]
"""
DEFAULTS = """\
campaign: Test
timezone: Europe/Amsterdam
language: nl
channels: [mastodon, bluesky]
vars: {helpline: 0800-2000, team: {name: Team Oranje, days: [ma, di]}}
"""
POSTS = {
    "a.md": "---\ntitle: Aftrap\npublish_at: 2027-11-15 09:00\n---\n{{ post.title }}: bel {{ vars.helpline }}.\n",
    "b.md": (
        "---\ntitle: Tweede\npublish_at: 2027-11-15 10:00\ncard: {title: Lees meer}\n"
        "overrides:\n  bluesky: {body: 'Kort: {{ vars.team.name }}.'}\n---\n"
        "{{ date | date('EEEE d MMMM') | capitalize }}: {{ vars.team.days | join(', ') }}.\n"
    ),
    # A warning (the starter's helpline left in): read, but not kept, and its problem is there every time.
    "c.md": "---\npublish_at: 2027-11-15 11:00\n---\nBel 0800-0000.\n",
    "tips/_defaults.yml": "schedule: {start: 2027-11-16 09:00, every: 1 day}\nvars: {helpline: 0800-1111}\n",
    "tips/01.md": "---\ntitle: Tip 1\n---\n{{ post.title }} op {{ date | date('EEEE') }}; bel {{ vars.helpline }}.\n",
    "tips/02.md": "---\ntitle: Tip 2\n---\n{{ post.title }} op {{ date | date('EEEE') }}; bel {{ vars.helpline }}.\n",
}
OUTPUTS = (("preview", "--format", "json"), ("preview", "--format", "markdown"), ("validate",))


def settled(root: Path, timeout: float = 60) -> None:
    """Wait until every file of the campaign is older than the store's RACY_NS: only then is what is read kept."""
    deadline = time.monotonic() + timeout
    while True:
        newest = max(
            max(os.lstat(os.path.join(folder, name)).st_mtime_ns, os.lstat(os.path.join(folder, name)).st_ctime_ns)
            for folder, _dirs, names in os.walk(root)
            for name in names
        )
        if time.time_ns() - newest > RACY_NS + 100_000_000:
            return
        assert time.monotonic() < deadline, "the files never settled"
        time.sleep(0.1)


def outputs(root: Path, cache: Path | str, commands: int = len(OUTPUTS)) -> list[tuple[int, str, str]]:
    results = [
        run_campaign(root, *args, CAMPAIGN_NOW=NOW, CAMPAIGN_CACHE_DIR=str(cache)) for args in OUTPUTS[:commands]
    ]
    return [(r.returncode, r.stdout, r.stderr) for r in results]


def cold(root: Path, tmp_path: Path) -> list[tuple[int, str, str]]:
    """The outputs with an empty store of their own: what every warm run must give, byte for byte."""
    folder = tmp_path / f"cold-{time.monotonic_ns()}"
    return outputs(root, folder)


def counts(root: Path, cache: Path) -> tuple[int, int]:
    """(entries taken from the store, entries made again) when the campaign is planned with it now."""
    store = Store.open(root.resolve(), cache / "plans")
    build(root.resolve(), store=store)
    return store.hits, store.misses


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    root = write_campaign(tmp_path / "campaign", POSTS, hashtags=HASHTAGS, defaults=DEFAULTS)
    settled(root)
    return root


def test_a_warm_run_gives_exactly_what_a_cold_one_gives(campaign: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = outputs(campaign, cache)  # fills the store
    assert [code for code, _, _ in first] == [0, 0, 0]
    assert "0800-0000" in first[2][1]  # c.md's warning, on validate's stdout
    assert list((cache / "plans").glob("*.txt"))
    # 5 posts and 10 sends: every read and send is kept, but c.md's 2 sends (each has the placeholder warning).
    assert counts(campaign, cache) == (13, 2)
    assert outputs(campaign, cache) == first
    assert cold(campaign, tmp_path) == first


@pytest.mark.parametrize(
    ("edit", "changed", "touched"),
    [
        # one post: its read and its 2 sends are made again
        (("posts/a.md", "{{ vars.helpline }}.", "{{ vars.helpline }} of chat."), "0800-2000 of chat", 3),
        # a folder's defaults: its 2 posts and their sends
        (("posts/tips/_defaults.yml", "0800-1111", "0800-3333"), "0800-3333", 6),
        # the root's defaults (vars): everything
        (("posts/_defaults.yml", "Team Oranje", "Team Blauw"), "Team Blauw", None),
        # hashtags.yml: everything
        (("hashtags.yml", '"#ikmaakhetverschil"]', '"#ikmaakhetverschil", "#Samen"]'), "#Samen", None),
    ],
)
def test_an_edit_makes_again_exactly_what_it_touches_and_nothing_stale_is_shown(
    campaign: Path, tmp_path: Path, edit: tuple[str, str, str], changed: str, touched: int | None
) -> None:
    cache = tmp_path / "cache"
    before = outputs(campaign, cache)
    kept, missed = counts(campaign, cache)
    path, old, new = edit
    file = campaign / path
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new), encoding="utf-8")
    touched = kept if touched is None else touched
    assert counts(campaign, cache) == (kept - touched, missed + touched)
    after = outputs(campaign, cache)
    assert after == cold(campaign, tmp_path)
    assert changed in after[0][1] and changed not in before[0][1]
    # Back as it was (another branch, say): its entries are still there.
    file.write_text(text, encoding="utf-8")
    assert counts(campaign, cache) == (kept, missed)
    assert outputs(campaign, cache) == before


Line = tuple[str, str, str]  # an entry's key, check and value (JSON), as the store file has them


def tampered(cache: Path, change: bytes | Callable[[str, list[Line]], tuple[str, list[Line]]]) -> None:
    (file,) = (cache / "plans").glob("*.txt")
    if isinstance(change, bytes):
        file.write_bytes(change)
        return
    header, *lines = file.read_text(encoding="ascii").split("\n")
    entries = [(line[:40], line[41:81], line[82:]) for line in lines]
    header, entries = change(header, entries)
    file.write_text("\n".join([header, *(" ".join(entry) for entry in entries)]), encoding="ascii")


def _rechecked(key: str, value: object) -> Line:
    from scheduler.content.stored import _check

    text = json.dumps(value, separators=(",", ":"))
    return key, _check(key, text), text


def _swapped(header: str, entries: list[Line]) -> tuple[str, list[Line]]:
    """Every entry under another entry's key: each valid-looking, none where it belongs."""
    moved = zip(entries, entries[1:] + entries[:1], strict=True)
    return header, [(key, check, text) for (key, _, _), (_, check, text) in moved]


def _spoiled(value: object) -> object:
    """Every number in `value` made a string."""
    if isinstance(value, list):
        return [_spoiled(item) for item in value]
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _rechecked_wrong_types(header: str, entries: list[Line]) -> tuple[str, list[Line]]:
    """Every value's numbers made strings, with its check made again: only the decoder's types stop it."""
    return header, [_rechecked(key, _spoiled(json.loads(text))) for key, _, text in entries]


def _another_posts(header: str, entries: list[Line]) -> tuple[str, list[Line]]:
    """Every entry's value replaced by the first one's (another post's), its check made again."""
    first = json.loads(entries[0][2])
    return header, [_rechecked(key, first) for key, _, _ in entries[1:]]


def _sends_of_another(header: str, entries: list[Line]) -> tuple[str, list[Line]]:
    """Each post's own reading, with another post's sends under its channels and times, checks made again."""
    values = [json.loads(text) for _, _, text in entries]
    donors = values[1:] + values[:1]
    changed = []
    for (key, _, _), value, donor in zip(entries, values, donors, strict=True):
        sends = [[channel, due, other[2]] for (channel, due, _), other in zip(value[1], donor[1], strict=False)]
        changed.append(_rechecked(key, [value[0], sends]))
    return header, changed


@pytest.mark.parametrize(
    "change",
    [
        b"\x00\xffgarbage, not text",
        b'{"format": 2, "entries": {"k": "v"}}',
        b"",
        lambda header, entries: (header.replace("2", "1"), entries),
        lambda header, entries: (header, [(key, check, text + " ") for key, check, text in entries]),
        lambda header, entries: (header, [(key, check, "5") for key, check, _ in entries]),
        lambda header, entries: (header, [(key, "0" * 40, text) for key, _, text in entries]),
        lambda header, entries: (header, [(key, check, text[: len(text) // 2]) for key, check, text in entries]),
        _swapped,
        _rechecked_wrong_types,
        _another_posts,
    ],
    ids=[
        "garbage",
        "json",
        "empty",
        "another-format",
        "value-changed",
        "value-a-number",
        "check-wrong",
        "cut-short",
        "under-another-key",
        "wrong-types-rechecked",
        "another-posts-value-rechecked",
    ],
)
def test_a_damaged_or_tampered_store_is_a_miss_and_the_output_is_still_right(
    campaign: Path, tmp_path: Path, change: bytes | Callable[[str, list[Line]], tuple[str, list[Line]]]
) -> None:
    cache = tmp_path / "cache"
    first = outputs(campaign, cache, 1)
    tampered(cache, change)
    assert counts(campaign, cache)[0] == 0  # nothing of it is taken
    assert outputs(campaign, cache, 1) == first


def test_sends_of_another_post_under_a_posts_entry_are_not_taken(campaign: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = outputs(campaign, cache, 1)
    kept, missed = counts(campaign, cache)
    tampered(cache, _sends_of_another)
    reads = 5
    assert counts(campaign, cache) == (reads, missed + kept - reads)  # each post read from it, no send
    assert outputs(campaign, cache, 1) == first


def test_a_cache_folder_that_cannot_be_written_does_not_stop_validate(campaign: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"  # a folder cannot be made under a file, whoever runs the tests (root too)
    blocker.write_text("not a folder", encoding="utf-8")
    assert outputs(campaign, blocker / "cache") == cold(campaign, tmp_path)
    unreadable = tmp_path / "cache"
    (unreadable / "plans").mkdir(parents=True)
    for name in ("x.txt", "y.txt"):
        (unreadable / "plans" / name).mkdir()  # a store "file" that is a folder
    result = run_campaign(campaign, "validate", CAMPAIGN_NOW=NOW, CAMPAIGN_CACHE_DIR=str(blocker / "cache"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_a_post_added_to_a_series_moves_the_others_and_their_texts_follow(campaign: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = outputs(campaign, cache, 1)
    kept, missed = counts(campaign, cache)
    (campaign / "posts" / "tips" / "00.md").write_text("---\ntitle: Tip 0\n---\n{{ post.title }} op {{ date }}.\n")
    # Tips 1 and 2 read as before (their entries are used) but fall a day later: their 4 sends are rendered
    # again, with the new day's name; the new post is read and rendered (1 + 2).
    assert counts(campaign, cache) == (kept - 4, missed + 4 + 3)
    after = outputs(campaign, cache, 1)
    assert after == cold(campaign, tmp_path)[:1]
    assert after != before
