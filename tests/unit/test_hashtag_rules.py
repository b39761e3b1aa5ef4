"""Hashtags as `campaign validate` and `campaign preview` show them: sets by name, tags with '#',
the default added to every post, and a broken hashtags.yml that holds what it touches."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from scheduler.cli.main import main
from scheduler.content.plan import build
from tests.builders import post, write_campaign

REPO = Path(__file__).resolve().parents[2]
HASHTAGS = """\
sets:
  week: ["#Week"]
  verschil: ["#IkMaakHetVerschil"]
default: [week]
"""


def cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--root", str(root), *args])


def texts(root: Path) -> dict[str, str]:
    result = cli(root, "preview", "--format", "json")
    assert result.exit_code == 0, result.output
    return {r["post"]: r["text"] for r in json.loads(result.stdout)["sends"]}


def test_a_misspelt_set_name_is_an_error_with_a_suggestion_and_is_never_a_tag(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post("Tekst.", publish_at="2027-11-15 09:00", hashtags="[verschill]")},
        hashtags=HASHTAGS,
    )
    result = cli(tmp_path, "validate")
    assert result.exit_code == 1
    assert (
        "posts/a.md:3: error: 'verschill' is not a set in hashtags.yml; did you mean 'verschil'? "
        "(a tag itself is written with '#': '#verschill')"
    ) in result.stdout
    assert not any(e.publishable for e in build(tmp_path).entries)


def test_a_tag_written_with_a_hash_is_a_tag_and_a_set_name_expands(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post("Tekst.", publish_at="2027-11-15 09:00", hashtags="[verschil, '#week']")},
        hashtags=HASHTAGS,
    )
    assert cli(tmp_path, "validate").exit_code == 0
    assert texts(tmp_path) == {"a": "Tekst.\n\n#Week #IkMaakHetVerschil"}  # '#week' is #Week again


def test_the_default_is_added_to_every_post_and_hashtags_empty_drops_it(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post("Zonder.", publish_at="2027-11-15 09:00"),
            "b.md": post("Met set.", publish_at="2027-11-15 10:00", hashtags="[verschil]"),
            "c.md": post("Met tag.", publish_at="2027-11-15 11:00", hashtags="['#Extra']"),
            "d.md": post("Geen.", publish_at="2027-11-15 12:00", hashtags="[]"),
            "map/_defaults.yml": "hashtags: [verschil]\n",
            "map/e.md": post("Uit de map.", publish_at="2027-11-15 13:00"),
        },
        hashtags=HASHTAGS,
    )
    assert texts(tmp_path) == {
        "a": "Zonder.\n\n#Week",
        "b": "Met set.\n\n#Week #IkMaakHetVerschil",
        "c": "Met tag.\n\n#Week #Extra",
        "d": "Geen.",
        "map/e": "Uit de map.\n\n#Week #IkMaakHetVerschil",
    }


def test_a_channel_override_adds_to_the_default_too(tmp_path: Path) -> None:
    text = (
        "---\npublish_at: 2027-11-15 09:00\nchannels: [mastodon, bluesky]\n"
        "overrides:\n  bluesky: {hashtags: [verschil]}\n  mastodon: {hashtags: []}\n---\nTekst.\n"
    )
    write_campaign(tmp_path, {"a.md": text}, hashtags=HASHTAGS)
    plan = build(tmp_path)
    assert not plan.problems, plan.problems
    by_channel = {e.channel.name: e.post.text for e in plan.entries if e.post}
    assert by_channel == {"bluesky": "Tekst.\n\n#Week #IkMaakHetVerschil", "mastodon": "Tekst."}


def test_a_misspelt_default_is_an_error_in_hashtags_yml_with_a_suggestion(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post(publish_at="2027-11-15 09:00")},
        hashtags=HASHTAGS.replace("default: [week]", "default: [weeek]"),
    )
    result = cli(tmp_path, "validate")
    assert "hashtags.yml:4: error: 'weeek' is not a set in hashtags.yml; did you mean 'week'?" in result.stdout
    assert "hashtags.yml:4: error: 1 post not checked because hashtags.yml has an error (line 4)" in result.stdout
    records = cli(tmp_path, "validate", "--format", "json").stdout  # for programs: the post's own record
    assert "its hashtags cannot be worked out: hashtags.yml:4 has an error" in records


def test_a_tab_in_hashtags_yml_holds_every_post_that_uses_it_and_never_publishes_set_names(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post("Tekst.", publish_at="2027-11-15 09:00", hashtags="[verschil]"),
            "b.md": post("Standaard.", publish_at="2027-11-15 10:00"),
            "c.md": post("Zonder tags.", publish_at="2027-11-15 11:00", hashtags="[]"),
        },
        hashtags=HASHTAGS.replace('  verschil: ["#IkMaakHetVerschil"]', '\tverschil: ["#IkMaakHetVerschil"]'),
    )
    result = cli(tmp_path, "validate")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "hashtags.yml:3: error: tabs cannot indent YAML; use spaces" in lines
    # one line for the posts it keeps from being checked: a and b, not c (`hashtags: []` does not use the file)
    assert (
        "hashtags.yml:3: error: 2 posts not checked because hashtags.yml has an error (line 3); fix it first" in lines
    )
    assert not any(line.startswith("posts/") for line in lines)
    plan = build(tmp_path)
    assert [e.draft.id for e in plan.entries if e.publishable] == ["c"]
    assert all("#verschil" not in (e.post.text if e.post else "") for e in plan.entries)


def test_every_post_of_the_sample_carries_the_campaign_tag() -> None:
    plan = build(REPO)
    assert not plan.has_errors
    assert plan.entries and all("#WeekTegenKindermishandeling" in e.post.text for e in plan.entries if e.post)


def test_a_misspelt_set_in_a_defaults_file_is_an_error_there_and_holds_the_posts_below(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"map/_defaults.yml": "hashtags: [verschill]\n", "map/a.md": post(publish_at="2027-11-15 09:00")},
        hashtags=HASHTAGS,
    )
    found = cli(tmp_path, "validate").stdout.splitlines()
    assert any(
        line.startswith("posts/map/_defaults.yml:1: error: 'verschill' is not a set in hashtags.yml; did you mean")
        for line in found
    ), found
    assert "posts/map/a.md:1: error: not planned: it takes a wrong value from posts/map/_defaults.yml:1" in found
