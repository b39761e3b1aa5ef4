"""`campaign new`'s template, in process: it plans without a problem in any language but the warning
that its helpline is a placeholder, keeps
the options exactly, never overwrites a file, and its CI workflow stays the repository's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from scheduler.content import campaign as campaign_file
from scheduler.content.networks import publishing_types
from scheduler.content.placeholders import STARTER_HELPLINE
from scheduler.content.plan import Plan, build
from scheduler.starter.new import Options, StarterError, campaign_tag, create

REPO = Path(__file__).resolve().parents[2]


def placeholder_only(plan: Plan) -> bool:
    """The one problem of a new campaign: its helpline is the starter's placeholder, until the team writes theirs."""
    return [(p.is_error, STARTER_HELPLINE in p.message) for p in plan.problems] == [(False, True)]


WORKFLOW = ".github/workflows/campaign-preview.yml"


@pytest.mark.parametrize("language", ["nl", "en", "de"])
def test_a_new_campaign_plans_without_a_problem(tmp_path: Path, language: str) -> None:
    create(tmp_path, Options("Veilig Thuis Week", "Europe/Amsterdam", language, date(2028, 3, 20)))
    plan = build(tmp_path)
    assert placeholder_only(plan)
    assert plan.campaign.settings.language == language
    assert len(plan.drafts) == 12  # 7 days, 4 stories, 1 hashtag post
    days = sorted({e.due.astimezone(plan.campaign.settings.timezone).date() for e in plan.entries})
    assert days[0] == date(2028, 3, 20) and days[6] == date(2028, 3, 26)  # a post each day of the week
    assert days[-1] == date(2029, 3, 19)  # the stories spread over the year after it
    assert all(e.post is not None and e.post.media for e in plan.entries if e.draft.id.startswith("week/01"))


def test_the_options_are_written_exactly_even_with_quotes_and_colons(tmp_path: Path) -> None:
    name = 'Week: "tegen" #kindermishandeling'
    create(tmp_path, Options(name, "America/New_York", "en", date(2027, 11, 15)))
    plan = build(tmp_path)
    assert plan.campaign.settings.name == name and str(plan.campaign.settings.timezone) == "America/New_York"
    assert placeholder_only(plan)
    assert campaign_tag(name) == "#WeekTegenKindermishandeling"
    assert campaign_tag("2027") == "#Campaign"


def test_it_never_overwrites_a_file_and_never_mixes_into_a_campaign(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("Ons eigen.\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text("/tmp/\n", encoding="utf-8")
    result = create(tmp_path, Options("X", "Europe/Amsterdam", "nl", date(2027, 11, 15)))
    assert result.kept == ("README.md", ".gitignore")
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "Ons eigen.\n"
    assert placeholder_only(build(tmp_path))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(StarterError, match=r"has a campaign already \(posts and channels\.yml\)"):
        create(tmp_path, Options("Y", "UTC", "nl", date(2030, 1, 1)))
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_it_writes_the_dot_files_of_a_campaign_repository(tmp_path: Path) -> None:
    result = create(tmp_path, Options("X", "Europe/Amsterdam", "nl", date(2027, 11, 15)))
    assert {".gitignore", WORKFLOW, "README.md", "hashtags.yml", "posts/_defaults.yml"} <= set(result.written)
    ignored = (tmp_path / ".gitignore").read_text(encoding="utf-8").split()
    assert {"/campaign.db*", "/dryrun-outbox.jsonl", "/secrets/"} <= set(ignored)


def test_the_starter_workflow_is_the_repository_s_but_for_what_it_installs(tmp_path: Path) -> None:
    create(tmp_path, Options("X", "Europe/Amsterdam", "nl", date(2027, 11, 15)))
    ours = yaml.safe_load((tmp_path / WORKFLOW).read_text(encoding="utf-8"))
    repos = yaml.safe_load((REPO / WORKFLOW).read_text(encoding="utf-8"))
    install = {"name": "Install", "run": 'pip install "$CAMPAIGN_SCHEDULER"'}
    assert [s if s.get("name") != "Install" else install for s in repos["jobs"]["preview"]["steps"]] == ours["jobs"][
        "preview"
    ]["steps"]
    assert ours["env"]["CAMPAIGN_SCHEDULER"] == "campaign-scheduler"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (Options("X", "Europe/Amsterdm", "nl", date(2027, 11, 15)), "did you mean 'Europe/Amsterdam'"),
        (Options("X", "Europe/Amsterdam", "klingon", date(2027, 11, 15)), "unknown language"),
        (Options(" ", "Europe/Amsterdam", "nl", date(2027, 11, 15)), "needs a name"),
        (Options("X", "Europe/Amsterdam", "nl", date(9999, 12, 27)), "too far off"),
    ],
)
def test_an_option_it_cannot_use_is_refused_before_anything_is_written(
    tmp_path: Path, options: Options, says: str
) -> None:
    with pytest.raises(StarterError, match=says):
        create(tmp_path / "c", options)
    assert not (tmp_path / "c").exists()


def test_the_commented_channel_examples_are_valid_for_every_network(tmp_path: Path) -> None:
    create(tmp_path, Options("X", "Europe/Amsterdam", "nl", date(2027, 11, 15)))
    text = (tmp_path / "channels.yml").read_text(encoding="utf-8")
    examples = text.split("# Examples for every network", 1)[1].split("# Alerts", 1)[0]
    lines = [line[1:] for line in examples.splitlines() if line.startswith("#   ")]
    (tmp_path / "channels.yml").write_text("channels:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    loaded, problems = campaign_file.load(tmp_path)
    assert problems == []
    assert {c.type for c in loaded.channels.values()} == set(publishing_types())
