"""`campaign validate` says what is wrong in a writer's words, on the file and line to fix, and names
the cause once instead of its consequences."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from scheduler.cli.main import main
from tests.builders import DEFAULTS, post, write_campaign

VARS = DEFAULTS + "vars: {helpline: '0800-2000', site: x.nl}\n"


def validate(root: Path) -> Result:
    return CliRunner().invoke(main, ["--root", str(root), "validate"])


def lines(root: Path) -> list[str]:
    return validate(root).stdout.splitlines()


def test_a_tab_in_front_matter_says_tabs_cannot_indent_yaml(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"a.md": "---\npublish_at: 2027-11-15 09:00\n\tchannels: [mastodon]\n---\nTekst.\n"})
    assert lines(tmp_path) == ["posts/a.md:3: error: tabs cannot indent YAML; use spaces"]


def test_a_colon_in_a_value_says_put_the_value_in_quotes(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"a.md": "---\ntitle: Dag 1: start\npublish_at: 2027-11-15 09:00\n---\nTekst.\n"})
    assert lines(tmp_path) == [
        "posts/a.md:2: error: put the value of 'title' in quotes: the ': ' inside it reads as a new key"
    ]


def test_a_misspelt_var_gets_a_suggestion_and_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post("Bel {{ vars.helplin }}.", publish_at="2027-11-15 09:00"),
            "b.md": post("Hallo {{ onbekend }}.", publish_at="2027-11-15 10:00"),
            "c.md": post("Zie {{ vars.nergens }}.", publish_at="2027-11-15 11:00"),
        },
        defaults=VARS,
    )
    assert lines(tmp_path) == [
        "posts/a.md:4: error: template: vars has no 'helplin'; did you mean 'helpline'?",
        "posts/b.md:4: error: template: unknown name 'onbekend'; a post can use post, campaign, channel, date, "
        "vars, hashtags (see docs/writing-posts.md)",
        "posts/c.md:4: error: template: vars has no 'nergens'; it has helpline, site",
    ]


def test_a_broken_folder_defaults_file_is_the_one_cause_not_a_missing_schedule_per_post(tmp_path: Path) -> None:
    series = {f"tips/{n}.md": post(f"Tip {n}.") for n in range(1, 4)}
    write_campaign(
        tmp_path,
        {"tips/_defaults.yml": "schedule:\n\tstart: 2027-11-15 12:00\n  every: 1 day\n", **series},
    )
    assert lines(tmp_path) == [  # the cause first, its consequences as one line (issue #16, item 5)
        "posts/tips/_defaults.yml:2: error: tabs cannot indent YAML; use spaces",
        "posts/tips/_defaults.yml:2: error: 3 posts not checked because posts/tips/_defaults.yml has an error "
        "(line 2); fix it first",
    ]


def test_a_broken_campaign_defaults_file_is_reported_once_with_each_post_not_checked(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post(publish_at="2027-11-15 09:00"), "sub/b.md": post(publish_at="2027-11-15 10:00")},
        defaults="campaign: Test\ntitle: Dag 1: start\n",
    )
    assert lines(tmp_path) == [
        "posts/_defaults.yml:2: error: put the value of 'title' in quotes: the ': ' inside it reads as a new key",
        "posts/_defaults.yml:2: error: 2 posts not checked because posts/_defaults.yml has an error (line 2); "
        "fix it first",
    ]


def test_a_broken_hashtags_file_is_the_one_cause_not_an_error_per_post(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {f"{n}.md": post(f"Tip {n}.", publish_at=f"2027-11-{n:02} 09:00") for n in range(1, 5)},
    )
    (tmp_path / "hashtags.yml").write_text("sets:\n  week: [x\n\tbad: 1\n", encoding="utf-8")
    found = lines(tmp_path)
    assert found[1:] == [
        "hashtags.yml:3: error: 4 posts not checked because hashtags.yml has an error (line 3); fix it first"
    ], found
    assert found[0].startswith("hashtags.yml:3: error: ")


def test_github_annotations_put_the_broken_settings_file_first_and_its_consequences_in_one(tmp_path: Path) -> None:
    """GitHub shows only the first 10 annotations of a step: 21 "not checked" lines hid the cause."""
    posts = {f"2027/{n:02}-tip.md": post(f"Tip {n}.", publish_at=f"2027-11-{n:02} 09:00") for n in range(1, 22)}
    write_campaign(tmp_path, {**posts, "later.md": post("{{ onbekend }}", publish_at="2027-12-01 09:00")})
    (tmp_path / "posts" / "2027" / "_defaults.yml").write_text("vars: [kapot\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--root", str(tmp_path), "validate", "--format", "github"])
    assert result.exit_code == 1
    annotations = result.stdout.splitlines()
    assert len(annotations) == 3, annotations
    assert annotations[0].startswith("::error file=posts/2027/_defaults.yml,line=2,title=campaign validate::")
    assert annotations[1] == (
        "::error file=posts/2027/_defaults.yml,line=2,title=campaign validate::21 posts not checked because "
        "posts/2027/_defaults.yml has an error (line 2); fix it first"
    )
    assert annotations[2].startswith("::error file=posts/later.md,line=4,")  # other problems still each their own

    as_json = CliRunner().invoke(main, ["--root", str(tmp_path), "validate", "--format", "json"]).stdout
    assert as_json.count("not checked: posts/2027/_defaults.yml is broken") == 21  # for programs: every record


def test_a_wrong_value_from_a_defaults_file_marks_each_post_that_takes_it(tmp_path: Path) -> None:
    write_campaign(
        tmp_path, {"a/_defaults.yml": "channels: [mastodn]\n", "a/x.md": post(publish_at="2027-11-15 09:00")}
    )
    found = lines(tmp_path)
    assert "posts/a/x.md:1: error: not planned: it takes a wrong value from posts/a/_defaults.yml:1" in found
    assert any(line.startswith("posts/a/_defaults.yml:1: error: unknown channel 'mastodn'") for line in found)


def test_the_summary_counts_in_singular_and_plural(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post("Een.", publish_at="2027-11-15 09:00"),
            "b.md": post("Twee.", publish_at="2027-11-15 09:00"),
            "c.md": post("{{ onbekend }}", publish_at="2027-11-15 10:00"),
        },
    )
    result = validate(tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip() == "3 posts, 3 planned sends: 1 error, 1 warning"
    write_campaign(tmp_path / "one", {"a.md": post("Een.", publish_at="2027-11-15 09:00")})
    assert validate(tmp_path / "one").stderr.strip() == "1 post, 1 planned send: 0 errors, 0 warnings"


def test_a_misspelt_time_zone_is_an_error_with_the_zone_it_probably_means(tmp_path: Path) -> None:
    defaults = DEFAULTS.replace("Europe/Amsterdam", "Europe/Amsterdm")
    write_campaign(tmp_path, {"a.md": post("Tekst.", publish_at="2027-11-15 09:00")}, defaults=defaults)

    assert (
        "posts/_defaults.yml:2: error: unknown time zone 'Europe/Amsterdm'; did you mean 'Europe/Amsterdam'?"
        " (an IANA name such as Europe/Amsterdam)"
    ) in lines(tmp_path)


def test_a_day_not_on_the_calendar_says_which_day_the_year_lacks(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"a.md": post("Schrikkeldag.", publish_at="2027-02-29 09:00")})
    assert lines(tmp_path) == [
        "posts/a.md:2: error: publish_at: '2027-02-29 09:00' is not on the calendar: 2027 has no 29 February "
        "(it is not a leap year; February 2027 ends on the 28th)"
    ]


def test_a_time_in_the_spring_gap_offers_the_time_that_exists_and_the_offset(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"a.md": post("Zomertijd.", publish_at="2027-03-28 02:30")})
    assert lines(tmp_path) == [
        "posts/a.md:2: error: publish_at: 2027-03-28 02:30 does not exist in Europe/Amsterdam (clocks go forward); "
        "write 2027-03-28 03:30, or give the offset of the time before the change: 2027-03-28T02:30+01:00"
    ]
    for fixed in ("2027-03-28 03:30", "'2027-03-28T02:30+01:00'"):  # both offered fixes are accepted
        write_campaign(tmp_path, {"a.md": post("Zomertijd.", publish_at=fixed)})
        assert validate(tmp_path).exit_code == 0, fixed


def test_the_starter_s_placeholder_helpline_in_a_post_about_to_be_planned_is_a_warning(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "a.md": post("Bel 0800-0000.", publish_at="2027-11-15 09:00"),
            "b.md": post("Bel 0800-0000.", publish_at="2027-11-15 10:00", draft="true"),  # not planned: no warning
        },
    )
    result = validate(tmp_path)
    assert result.exit_code == 0  # a warning: the team may be testing, but is told before it goes out
    assert result.stdout.splitlines() == [
        "posts/a.md:4: warning: the helpline 0800-0000 is the starter's placeholder, not a real number; "
        "write your own in vars: helpline in posts/_defaults.yml before this post goes out"
    ]
