"""The plan at its edges: sends whose time has passed (one injected clock), and posts not on the calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from scheduler.content.plan import build, with_past_due
from tests.builders import post, write_campaign

NOW = datetime(2027, 11, 15, 9, 0, 30, tzinfo=UTC)  # 10:00:30 in Amsterdam


def late_messages(root: Path, published: set[tuple[str, str]] | None = None) -> list[str]:
    plan = with_past_due(build(root), NOW, published or set())
    return [str(p) for p in plan.problems if "was due" in p.message]


def test_lateness_is_said_in_the_largest_whole_unit(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post(publish_at="2027-11-15 10:00"),
            "b.md": post("B.", publish_at="2027-11-15 09:59"),
            "c.md": post("C.", publish_at="2027-11-15 08:00"),
            "d.md": post("D.", publish_at="2027-11-14 10:00"),
            "e.md": post("E.", publish_at="2027-11-15 10:01"),  # still to come
        },
    )
    assert late_messages(tmp_path) == [
        "posts/a.md:2: warning: a on mastodon was due less than a minute ago (2027-11-15 10:00 CET)",
        "posts/b.md:2: warning: b on mastodon was due 1 minute ago (2027-11-15 09:59 CET)",
        "posts/c.md:2: warning: c on mastodon was due 2 hours ago (2027-11-15 08:00 CET)",
        "posts/d.md:2: warning: d on mastodon was due 1 day ago (2027-11-14 10:00 CET)",
    ]


def test_drafts_and_published_sends_are_not_warned_and_the_entry_carries_the_warning(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "klad.md": post(publish_at="2027-11-14 10:00", draft="true"),
            "uit.md": post("Uit.", publish_at="2027-11-14 10:00", channels="[mastodon, bluesky]"),
        },
    )
    assert late_messages(tmp_path, {("uit", "mastodon")}) == [
        "posts/uit.md:2: warning: uit on bluesky was due 1 day ago (2027-11-14 10:00 CET)"
    ]
    plan = with_past_due(build(tmp_path), NOW, {("uit", "mastodon")})
    flagged = {e.channel.name for e in plan.entries if any("was due" in p.message for p in e.problems)}
    assert flagged == {"bluesky"}
    assert with_past_due(build(tmp_path), datetime(2027, 1, 1, tzinfo=UTC)) == build(tmp_path)


def test_posts_that_cannot_be_placed_are_listed_with_their_problems(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "reeks/_defaults.yml": "schedule: {start: '2027-11-15 12:00', every: 1 eon}\n",
            "reeks/1.md": "Eén.\n",
            "kapot.md": "---\ntitle: [\n---\nKapot.\n",
            "klad.md": post(draft="true"),  # a draft without a time: fine, and not listed
            "goed.md": post(publish_at="2027-11-15 09:00"),
        },
    )
    plan = build(tmp_path)
    listed = {u.post: [f"{p.path}:{p.line}" for p in u.problems] for u in plan.unplaced}
    assert set(listed) == {"kapot", "reeks/1"}
    assert listed["kapot"] and all(where.startswith("posts/kapot.md:") for where in listed["kapot"])
    assert listed["reeks/1"] == ["posts/reeks/_defaults.yml:1"]  # the schedule that failed


def test_a_broken_series_member_is_known_by_its_path_at_the_slot_its_file_name_gives_it(tmp_path: Path) -> None:
    root = write_campaign(
        tmp_path,
        {
            "tips/_defaults.yml": "schedule:\n  start: 2027-11-15 12:00\n  every: 1 day\n",
            "tips/1.md": post("Een."),
            "tips/2.md": "---\ntitle: Tip: bel\n---\nTwee.\n",  # does not parse: an unquoted ': '
            "tips/3.md": "---\nid: drie\nchanels: [bluesky]\n---\nDrie.\n",  # a typo; its id still reads
        },
    )
    unplaced = {u.path: u for u in build(root).unplaced}
    two, three = unplaced["posts/tips/2.md"], unplaced["posts/tips/3.md"]
    assert (two.key, two.channels, two.due) == ("tips/2", ("mastodon",), datetime(2027, 11, 16, 11, 0, tzinfo=UTC))
    assert (three.key, three.channels, three.due) == ("drie", ("bluesky",), datetime(2027, 11, 17, 11, 0, tzinfo=UTC))


def test_a_broken_line_after_publish_at_does_not_take_the_time_with_it(tmp_path: Path) -> None:
    root = write_campaign(
        tmp_path, {"nu/kapot.md": "---\ntitle: Kapot\npublish_at: 2027-11-15 09:00\n\ttags: x\n---\nTab.\n"}
    )
    [broken] = build(root).unplaced
    assert broken.path == "posts/nu/kapot.md" and broken.due == datetime(2027, 11, 15, 8, 0, tzinfo=UTC)
