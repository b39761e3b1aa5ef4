"""The pure rules of the ledger's sync: held vs cancelled, without a database."""

from __future__ import annotations

from pathlib import Path

from scheduler.content.plan import build
from scheduler.content.problems import error
from scheduler.publish.holds import (
    RETRY_REQUESTED,
    Fate,
    Known,
    Reading,
    absent,
    hold_for,
    keeps_retry_time,
    present,
    read,
    repeat_hold,
    unplanned,
)
from scheduler.publish.states import State

CHANNEL_TYPO = error("channels.yml", 2, "unknown channel type 'mastodn'")
FOLDER = error("posts/week/_defaults.yml", 1, "unknown key 'max_lat'")
POST = error("posts/a.md", 3, "unknown key 'titel'")
A = Known("posts/a.md", frozenset({"mastodon", "bluesky"}), draft=False)


def test_only_valid_files_cancel_a_send() -> None:
    reading = Reading(posts={"a": A}, paths=frozenset({"posts/a.md"}))
    assert absent(reading, "a", "telegram", "posts/a.md", exists=True).state == "cancelled"  # no longer named
    assert absent(reading, "gone", "mastodon", "posts/gone.md", exists=False).state == "cancelled"  # deleted
    drafted = Reading(posts={"a": Known("posts/a.md", A.channels, draft=True)})
    assert absent(drafted, "a", "mastodon", "posts/a.md", exists=True).state == "cancelled"
    renamed = absent(reading, "old-id", "mastodon", "posts/a.md", exists=True)
    assert renamed.state == "cancelled"  # the file now says another id


def test_a_post_with_errors_is_held_with_its_file_and_line() -> None:
    reading = Reading(errors_at={"posts/a.md": (POST,)})
    fate = absent(reading, "a", "mastodon", "posts/a.md", exists=True)
    assert fate.state == "held" and "posts/a.md:3: error:" in (fate.reason or "")


def test_a_broken_channel_entry_holds_that_channel_only() -> None:
    reading = Reading(posts={"a": A}, paths=frozenset({"posts/a.md"}), channels={"mastodon": CHANNEL_TYPO})
    fate = absent(reading, "a", "mastodon", "posts/a.md", exists=True)
    assert fate.state == "held" and "channels.yml:2: error:" in (fate.reason or "")
    assert hold_for(reading, "posts/a.md", "bluesky") is None
    assert "channels.yml:2" in (hold_for(reading, "posts/a.md", "mastodon") or "")


def test_a_file_that_holds_everything_cancels_nothing_not_even_a_deletion() -> None:
    reading = Reading(everything=(error("hashtags.yml", 2, "tabs"),))
    for exists in (True, False):
        assert absent(reading, "b", "mastodon", "posts/b.md", exists=exists).state == "held"
    assert "hashtags.yml:2" in (hold_for(reading, "posts/b.md", "bluesky") or "")


def test_a_broken_folder_defaults_holds_the_posts_below_it_only() -> None:
    reading = Reading(folders={"posts/week/": (FOLDER,)})
    assert "posts/week/_defaults.yml:1" in (hold_for(reading, "posts/week/een.md", "mastodon") or "")
    assert hold_for(reading, "posts/hier.md", "mastodon") is None
    assert absent(reading, "week/een", "mastodon", "posts/week/een.md", exists=False).state == "held"
    assert absent(reading, "hier", "mastodon", "posts/hier.md", exists=False).state == "cancelled"
    assert reading.settings_problems() == [FOLDER]


def test_open_sends_follow_the_files_and_a_hold_does_not_re_arm_a_failed_send() -> None:
    assert present(State.HELD, "x", changed=False, hold=None).state == "pending"
    assert present(State.CANCELLED, "x", changed=False, hold=None).state == "pending"
    assert present(State.PENDING, None, changed=True, hold="broken").state == "held"
    assert present(State.FAILED, "rejected", changed=True, hold=None).state == "pending"  # edited: a new try
    assert present(State.FAILED, "rejected", changed=False, hold=None).state == "failed"
    assert present(State.MISSED, "late", changed=False, hold="broken").state == "missed"


def test_the_same_text_twice_on_a_channel_is_held_unless_allowed() -> None:
    assert repeat_hold("mastodon", "b", "a", allow_repeat=False) is not None
    assert repeat_hold("mastodon", "b", "a", allow_repeat=True) is None
    assert repeat_hold("mastodon", "a", "a", allow_repeat=False) is None
    assert repeat_hold("mastodon", "a", None, allow_repeat=False) is None


def test_reading_a_plan_with_one_broken_channel_keeps_its_posts_and_other_channels(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    (tmp_path / "channels.yml").write_text(
        "channels:\n  mastodon: {type: dryrun, like: mastodn}\n  bluesky: {type: dryrun, like: bluesky}\n"
    )
    (tmp_path / "posts" / "_defaults.yml").write_text("timezone: Europe/Amsterdam\nchannels: [mastodon, bluesky]\n")
    (tmp_path / "posts" / "a.md").write_text("---\npublish_at: 2030-01-01 10:00\n---\nHallo.\n")
    plan = build(tmp_path)
    reading = read(plan)
    assert [(e.draft.id, e.channel.name) for e in plan.entries] == [("a", "bluesky")]
    assert [str(p).split(": error")[0] for p in plan.problems if p.is_error] == ["channels.yml:2"]
    assert set(reading.channels) == {"mastodon"} and "a" in reading.posts
    assert absent(reading, "a", "mastodon", "posts/a.md", exists=True).state == "held"


def test_a_send_the_plan_no_longer_has_keeps_waiting_for_a_person_when_failed() -> None:
    held = Fate(State.HELD, "posts/a.md:3: error: unknown key 'titel'")
    assert unplanned(State.FAILED, "rejected", held) == Fate(State.FAILED, "rejected")
    assert unplanned(State.PENDING, None, held) == held
    gone = Fate(State.CANCELLED, "posts/a.md was deleted")
    assert unplanned(State.FAILED, "rejected", gone) == gone


def test_a_retry_by_hand_keeps_its_time_while_the_text_stays() -> None:
    assert keeps_retry_time(RETRY_REQUESTED, same_version=True, same_state=True)
    assert not keeps_retry_time(RETRY_REQUESTED, same_version=False, same_state=True)  # edited: the files' time
    assert not keeps_retry_time(RETRY_REQUESTED, same_version=True, same_state=False)
    assert not keeps_retry_time(None, same_version=True, same_state=True)
