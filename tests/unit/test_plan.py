"""Files → plan: defaults, identity, rendering, hashtags, media, and problems with file and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scheduler.content.plan import Plan, build
from tests.builders import DEFAULTS, post, write_campaign


def messages(plan: Plan) -> list[str]:
    return [str(p) for p in plan.problems]


def only_entry(plan: Plan, channel: str = "mastodon") -> str:
    texts = [e.post.text for e in plan.entries if e.channel.name == channel and e.post]
    assert len(texts) == 1, texts
    return texts[0]


def test_post_identity_is_its_path_without_md_unless_it_gives_an_id(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "tips/01-maandag.md": post(publish_at="2027-11-15 09:00"),
            "tips/02.md": post("Anders.", publish_at="2027-11-16 09:00", id="tip-twee"),
        },
    )
    assert sorted(e.draft.id for e in build(tmp_path).entries) == ["tip-twee", "tips/01-maandag"]


def test_deeper_defaults_override_shallower_and_front_matter_overrides_all(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a/_defaults.yml": "channels: [bluesky]\nvars: {who: map}\n",
            "a/b/_defaults.yml": "vars: {where: diep}\n",
            "a/b/one.md": post("{{ vars.who }} {{ vars.where }} {{ vars.root }}", publish_at="2027-11-15 09:00"),
            "a/b/two.md": post("Twee.", publish_at="2027-11-15 10:00", channels="[mastodon, bluesky]"),
        },
        defaults="channels: [mastodon]\nvars: {root: wortel}\n",
    )
    plan = build(tmp_path)
    assert not plan.problems
    by_post = {(e.draft.id, e.channel.name) for e in plan.entries}
    assert by_post == {("a/b/one", "bluesky"), ("a/b/two", "mastodon"), ("a/b/two", "bluesky")}
    one = next(e for e in plan.entries if e.draft.id == "a/b/one")
    assert one.post is not None and one.post.text == "map diep wortel"


def test_unknown_key_is_an_error_with_a_suggestion_and_its_line(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"x.md": "---\ntitle: X\npublsh_at: 2027-11-15 09:00\n---\nHallo\n"})
    assert "posts/x.md:3: error: unknown key 'publsh_at'; did you mean 'publish_at'?" in messages(build(tmp_path))


def test_one_broken_file_never_hides_the_others(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": "---\ntitle: [unclosed\n---\nbody\n",
            "b.md": post("Goed.", publish_at="2027-11-15 09:00"),
            "c.md": "---\npublish_at: 2027-03-28 02:30\n---\nIn de gap.\n",
            "d.md": b"\xff\xfe broken".decode("latin-1"),
        },
    )
    plan = build(tmp_path)
    assert [e.draft.id for e in plan.entries] == ["b"]
    text = "\n".join(messages(plan))
    assert "posts/a.md:3: error:" in text
    assert "posts/c.md:2: error: publish_at: 2027-03-28 02:30 does not exist" in text


def test_unknown_channel_is_reported_where_it_was_written(tmp_path: Path) -> None:
    write_campaign(
        tmp_path, {"a/_defaults.yml": "channels: [mastodn]\n", "a/x.md": post(publish_at="2027-11-15 09:00")}
    )
    assert any(
        m.startswith(
            "posts/a/_defaults.yml:1: error: unknown channel 'mastodn'; did you mean 'mastodon'? (channels.yml has"
        )
        for m in messages(build(tmp_path))
    )


def test_sandbox_violation_and_undefined_names_are_errors_on_the_body_line(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": "---\npublish_at: 2027-11-15 09:00\n---\nregel een\n{{ ''.__class__.__mro__ }}\n",
            "b.md": "---\npublish_at: 2027-11-15 10:00\n---\n\n\n{{ onbekend }}\n",
            "c.md": "---\npublish_at: 2027-11-15 11:00\n---\n{% if %}\n",
        },
    )
    text = "\n".join(messages(build(tmp_path)))
    assert "posts/a.md:5: error: template uses something the sandbox forbids" in text
    assert "posts/b.md:6: error: template: unknown name 'onbekend'" in text
    assert "posts/c.md:4: error: template syntax error: " in text


def test_dates_render_in_the_campaign_language(tmp_path: Path) -> None:
    write_campaign(
        tmp_path, {"a.md": post('{{ date | date("EEEE d MMMM") }} om {{ date | time }}', publish_at="2027-11-15 09:00")}
    )
    assert only_entry(build(tmp_path)) == "maandag 15 november om 09:00"


def test_hashtags_expand_sets_skip_tags_in_the_body_and_respect_channel_limits(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post(
                "Doe mee met #IkMaakHetVerschil!",
                publish_at="2027-11-15 09:00",
                hashtags="[week, '#Extra']",
                channels="[mastodon, bluesky]",
            ),
        },
        hashtags="""
        sets:
          week: ["#ikmaakhetverschil", WeekTegenKindermishandeling, "#Kids"]
        limits: {bluesky: 2}
        lowercase_ok: [ikmaakhetverschil]
    """,
    )
    plan = build(tmp_path)
    assert (
        only_entry(plan, "mastodon") == "Doe mee met #IkMaakHetVerschil!\n\n#WeekTegenKindermishandeling #Kids #Extra"
    )
    assert only_entry(plan, "bluesky") == "Doe mee met #IkMaakHetVerschil!\n\n#WeekTegenKindermishandeling"
    assert any("bluesky allows 2 hashtags per post; dropped #Kids, #Extra" in m for m in messages(plan))


def test_body_can_place_hashtags_itself_and_a_post_can_opt_out(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post("Tags: {{ hashtags }} en meer.", publish_at="2027-11-15 09:00"),
            "b.md": post("Geen tags.", publish_at="2027-11-15 10:00", hashtags="[]"),
        },
        hashtags="sets: {week: ['#Week']}\ndefault: [week]\n",
    )
    texts = {e.draft.id: e.post.text for e in build(tmp_path).entries if e.post}
    assert texts == {"a": "Tags: #Week en meer.", "b": "Geen tags."}


def test_long_lowercase_tag_gets_an_accessibility_hint_unless_silenced(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post(publish_at="2027-11-15 09:00", hashtags="['#doorbreekdestilte', '#officieeltagje']")},
        hashtags="lowercase_ok: [officieeltagje]\n",
    )
    hints = [m for m in messages(build(tmp_path)) if "all lower case" in m]
    assert len(hints) == 1 and "#doorbreekdestilte" in hints[0]


def test_overlong_text_is_an_error_naming_file_channel_length_and_limit(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"a.md": post("x" * 301, publish_at="2027-11-15 09:00", channels="[mastodon, bluesky]")})
    assert (
        "posts/a.md:5: error: bluesky: text is 301 graphemes, over the limit of 300; the whole post is held, on all "
        "its channels, until it fits: shorten it, set `thread: true`, or write an `overrides:` text for bluesky"
    ) in messages(build(tmp_path))


def test_channel_override_gives_a_shorter_text(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": (
                "---\npublish_at: 2027-11-15 09:00\nchannels: [mastodon, bluesky]\n"
                "overrides:\n  bluesky:\n    body: Kort.\n---\n" + "Lang " * 70 + "\n"
            )
        },
    )
    plan = build(tmp_path)
    assert only_entry(plan, "bluesky") == "Kort." and not plan.has_errors


def test_media_needs_alt_text_and_must_stay_inside_the_campaign(tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG")
    root = tmp_path / "campaign"
    write_campaign(
        root,
        {
            "a.md": (
                "---\npublish_at: 2027-11-15 09:00\nchannels: [bluesky]\nmedia:\n"
                "  - {path: img/ok.png, alt: Een foto}\n  - {path: img/ok.png}\n  - {path: ../outside.png, alt: x}\n"
                "  - {path: img/link.png, alt: x}\n  - {path: /etc/passwd, alt: x}\n  - {path: img/big.png, alt: x}\n---\nHallo\n"
            )
        },
    )
    (root / "img").mkdir()
    (root / "img" / "ok.png").write_bytes(b"\x89PNG")
    (root / "img" / "big.png").write_bytes(b"\x00" * 1_000_001)
    os.symlink(outside, root / "img" / "link.png")
    text = "\n".join(messages(build(root)))
    assert "posts/a.md:6: error: img/ok.png: alt text is missing" in text


@pytest.mark.parametrize(
    ("media", "message"),
    [
        ("../outside.png", "must not contain .."),
        ("img/link.png", "leads outside the campaign root"),
        ("/etc/passwd", "must be relative to the campaign root"),
        ("img/big.png", "img/big.png cannot go to bluesky: it is not an image"),  # a rendition is made of every image
        ("img/none.png", "does not exist"),
    ],
)
def test_media_paths_are_checked(tmp_path: Path, media: str, message: str) -> None:
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG")
    root = tmp_path / "campaign"
    write_campaign(
        root,
        {
            "a.md": f"---\npublish_at: 2027-11-15 09:00\nchannels: [bluesky]\nmedia:\n  - {{path: {media}, alt: x}}\n---\nHallo\n"
        },
    )
    (root / "img").mkdir()
    (root / "img" / "big.png").write_bytes(b"\x00" * 1_000_001)
    os.symlink(outside, root / "img" / "link.png")
    assert any("posts/a.md:5: error: " in m and message in m for m in messages(build(root))), messages(build(root))


def test_series_members_take_slots_in_natural_file_order_and_drafts_keep_theirs(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "tips/_defaults.yml": "schedule: {start: '2027-11-15 12:00', every: 1 day}\n",
            "tips/10-tien.md": post("Tien."),
            "tips/2-twee.md": post("Twee."),
            "tips/3-drie.md": post("Drie.", draft="true"),
            "tips/1-een.md": post("Een."),
        },
    )
    plan = build(tmp_path)
    days = {e.draft.id: e.due.day for e in plan.entries}
    assert days == {"tips/1-een": 15, "tips/2-twee": 16, "tips/3-drie": 17, "tips/10-tien": 18}
    assert [e.draft.id for e in plan.select()] == ["tips/1-een", "tips/2-twee", "tips/10-tien"]
    assert len(plan.select(drafts=True)) == 4


def test_more_posts_than_occurrences_is_an_error_at_the_schedule_naming_the_extra_posts(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "tips/_defaults.yml": "schedule:\n  start: 2027-11-15 12:00\n  every: 1 day\n  count: 1\n",
            "tips/a.md": post("A."),
            "tips/b.md": post("B."),
            "tips/c.md": post("C."),
        },
    )
    plan = build(tmp_path)
    found = messages(plan)
    assert (
        "posts/tips/_defaults.yml:1: error: schedule: the schedule has 1 occurrence for 3 posts; "
        "no slot for posts/tips/b.md, posts/tips/c.md"
    ) in found
    assert any(m.startswith("posts/tips/b.md:1: error: no slot left in its series") for m in found), found
    assert [e.draft.id for e in plan.entries] == ["tips/a"]  # the post that fits keeps its slot


def test_same_minute_is_a_warning_and_same_text_is_an_error_unless_allowed(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post("Zelfde.", publish_at="2027-11-15 09:00"),
            "b.md": post("Zelfde.", publish_at="2027-11-15 09:00"),
            "c.md": post("Zelfde.", publish_at="2027-11-16 09:00", allow_repeat="true"),
        },
    )
    plan = build(tmp_path)
    text = "\n".join(messages(plan))
    assert "posts/b.md:1: warning: goes out on mastodon in the same minute as posts/a.md" in text
    assert "posts/b.md:1: error: mastodon gets the same text as posts/a.md" in text
    assert "posts/c.md" not in text
    assert [e.draft.id for e in plan.entries if e.publishable] == ["a", "c"]


def test_literal_secret_in_channels_file_is_an_error_that_does_not_echo_it(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post(publish_at="2027-11-15 09:00")},
        channels=(
            "channels:\n  mastodon: {type: dryrun, like: mastodon}\n"
            "  masto2:\n    type: mastodon\n    instance: https://x.example\n    token: abc123SECRETVALUE\n"
        ),
    )
    text = "\n".join(messages(build(tmp_path)))
    assert "channels.yml:6: error: masto2.token looks like a secret written out" in text
    assert "abc123SECRETVALUE" not in text


def test_vars_merge_by_name_from_the_root_defaults_through_a_folder_to_the_post(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a/_defaults.yml": "vars: {b: map}\n",
            "a/x.md": "---\npublish_at: 2027-11-15 09:00\nvars: {c: post}\n---\n{{ vars.a }} {{ vars.b }} {{ vars.c }}\n",
        },
        defaults=DEFAULTS + "vars: {a: wortel, b: wortel, c: wortel}\n",
    )
    plan = build(tmp_path)
    assert [e.post.text for e in plan.entries if e.post] == ["wortel map post"]
