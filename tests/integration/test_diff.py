"""`campaign diff` on real git repositories: what a commit does to the schedule."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from scheduler.views.diff import Diff, compare
from scheduler.words import translator
from tests.builders import post, write_campaign
from tests.builders import run_campaign as campaign

BOTH = "[mastodon, bluesky]"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose first commit has a campaign of four posts, and a working tree that changes each."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write_campaign(
        root,
        {
            "blijft.md": post("Blijft hetzelfde.", publish_at="2027-11-15 09:00", channels=BOTH),
            "weg.md": post("Gaat weg.", publish_at="2027-11-15 10:00"),
            "later.md": post("Schuift op.", publish_at="2027-11-16 09:00", channels=BOTH),
            "tekst.md": post("Oude zin.\n\nTweede regel.", publish_at="2027-11-17 09:00"),
            "oud-pad.md": post("Krijgt een andere naam.", publish_at="2027-11-18 09:00", id="vast-id"),
            "pad.md": post("Van naam veranderd, met id gelijk aan het oude pad.", publish_at="2027-11-19 09:00"),
        },
    )
    commit(root, "base")
    posts = root / "posts"
    (posts / "weg.md").unlink()
    (posts / "later.md").write_text(post("Schuift op.", publish_at="2027-11-16 14:30", channels=BOTH))
    (posts / "tekst.md").write_text(post("Nieuwe zin.\n\nTweede regel.", publish_at="2027-11-17 09:00"))
    (posts / "oud-pad.md").rename(posts / "nieuw-pad.md")
    (posts / "pad.md").unlink()
    (posts / "hernoemd.md").write_text(
        post("Van naam veranderd, met id gelijk aan het oude pad.", publish_at="2027-11-19 09:00", id="pad")
    )
    (posts / "nieuw.md").write_text(post("Helemaal nieuw.", publish_at="2027-11-20 09:00"))
    return root


def summary(diff: Diff) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for change in diff.changes:
        label = change.kind if change.kind != "changed" else "+".join(change.aspects)
        found.setdefault(label, []).append(f"{change.post}@{change.channel}")
    return found


def test_added_removed_moved_and_changed_text_against_the_working_tree(repo: Path) -> None:
    diff = compare(repo, "main")

    assert summary(diff) == {
        "removed": ["weg@mastodon"],
        "time": ["later@bluesky", "later@mastodon"],
        "text": ["tekst@mastodon"],
        "added": ["nieuw@mastodon"],
    }
    # blijft on two channels, the renamed post with id: vast-id, and the one whose id is its old path
    assert diff.unchanged == 4
    assert diff.new_problems == diff.fixed_problems == diff.remaining_errors == ()


def test_text_view_shows_old_and_new_local_times_and_text(repo: Path) -> None:
    result = campaign(repo, "diff", "main")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Schedule: main (") and lines[0].endswith("→ working tree · times in Europe/Amsterdam")
    assert lines[1] == "sends: 1 added · 1 removed · 2 moved · 1 text changed · 4 unchanged"
    assert "~ di 16 nov 2027 14:30   later  [bluesky, mastodon]  moved from di 16 nov 2027 09:00" in lines
    assert "- ma 15 nov 2027 10:00   weg  [mastodon]  removed" in lines
    assert "+ za 20 nov 2027 09:00   nieuw  [mastodon]  added" in lines
    assert "      │ -Oude zin." in lines and "      │ +Nieuwe zin." in lines and "      │  Tweede regel." in lines
    assert "vast-id" not in result.stdout and "hernoemd" not in result.stdout


def test_markdown_view_has_tables_and_old_new_diff_blocks(repo: Path) -> None:
    result = campaign(repo, "diff", "main", "--format", "markdown")

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "| `later` | bluesky, mastodon | di 16 nov 2027 09:00 | di 16 nov 2027 14:30 |" in text
    assert "| za 20 nov 2027 09:00 | mastodon | `nieuw` | ` Helemaal nieuw. ` |" in text
    assert "#### Verwijderd (1 verzending)" in text  # in the campaign's language, one send as one
    assert text.startswith("### Wijzigingen in de planning: `main (")
    assert "**verzendingen: 1 toegevoegd · 1 verwijderd · 2 verplaatst · 1 met gewijzigde tekst**" in text
    assert "```diff\n-Oude zin.\n+Nieuwe zin.\n \n Tweede regel.\n```" in text


def test_json_view_has_both_sides_in_the_preview_shape(repo: Path) -> None:
    result = campaign(repo, "diff", "main", "--format", "json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["base"]["revision"] == "main" and len(data["base"]["commit"]) == 40
    assert data["head"] == {"revision": None, "commit": None, "campaign": True, "errors": 0, "warnings": 0}
    assert data["summary"] == {
        "added": 1,
        "removed": 1,
        "moved": 2,
        "text_changed": 1,
        "changed": 3,
        "unchanged": 4,
    }
    moved = next(c for c in data["changes"] if c["post"] == "later" and c["channel"] == "mastodon")
    assert moved["aspects"] == ["time"]
    assert (moved["old"]["due"], moved["new"]["due"]) == ("2027-11-16T09:00:00+01:00", "2027-11-16T14:30:00+01:00")
    removed = next(c for c in data["changes"] if c["change"] == "removed")
    assert removed["new"] is None and removed["old"]["text"] == "Gaat weg."


def test_two_revisions_and_a_campaign_in_a_subfolder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    root = repo / "campagnes" / "wtk"
    root.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("Niet de campagne.\n")
    commit(repo, "no campaign yet")
    write_campaign(root, {"a.md": post("Een.", publish_at="2027-11-15 09:00")})
    commit(repo, "campaign")
    (root / "posts" / "a.md").write_text(post("Een.", publish_at="2027-11-15 11:00"))
    commit(repo, "later")
    (root / "posts" / "a.md").write_text(post("Niet gecommit.", publish_at="2027-11-15 11:00"))

    between = compare(root, "HEAD~1", "HEAD")
    assert summary(between) == {"time": ["a@mastodon"]}
    assert between.base.plan is not None and between.base.plan.campaign.root.name == "wtk"

    first = campaign(root, "diff", "HEAD~2", "HEAD", "--format", "markdown")
    assert first.returncode == 0, first.stderr
    assert "heeft geen campagne in deze map: elk bericht telt als toegevoegd." in first.stdout
    assert "| ma 15 nov 2027 11:00 | mastodon | `a` | ` Een. ` |" in first.stdout


def test_errors_in_either_revision_are_shown_and_the_exit_status_is_zero(repo: Path) -> None:
    (repo / "posts" / "kapot.md").write_text(post("Kapot.", publish_at="2027-13-01 09:00"))
    commit(repo, "broken")
    (repo / "posts" / "kapot.md").unlink()
    (repo / "posts" / "ook-kapot.md").write_text(
        post("Ook kapot.", publish_at="2027-11-20 09:00", channels="[nergens]")
    )

    result = campaign(repo, "diff", "HEAD")

    assert result.returncode == 0, result.stderr
    assert "  new: posts/ook-kapot.md:3: error: unknown channel 'nergens'" in result.stdout
    assert (
        "  fixed: posts/kapot.md:2: error: publish_at: '2027-13-01 09:00' is not on the calendar: there is no month 13"
        in result.stdout
    )
    data = json.loads(campaign(repo, "diff", "HEAD", "--format", "json").stdout)
    assert (data["base"]["errors"], data["head"]["errors"]) == (1, 1)
    markdown = campaign(repo, "diff", "HEAD", "--format", "markdown").stdout
    # the problems too in the campaign's language (Dutch), as its headers
    unknown = translator("nl").gettext("unknown channel {name}{hint} (channels.yml has {names})")
    assert unknown.startswith("onbekend kanaal") and "unknown channel" not in markdown
    assert f"- nieuw **fout** `posts/ook-kapot.md:3` {unknown.split('{name}')[0]}'nergens'" in markdown


def test_an_unknown_revision_or_a_folder_outside_git_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    unknown = campaign(repo, "diff", "no-such-branch")
    assert unknown.returncode == 1
    assert "'no-such-branch' is not a commit" in unknown.stderr

    outside = tmp_path / "los"
    write_campaign(outside, {"a.md": post(publish_at="2027-11-15 09:00")})
    result = campaign(outside, "diff", "main")
    assert result.returncode == 1 and "is not in a git repository" in result.stderr


def test_markdown_keeps_post_text_inert(repo: Path) -> None:
    tricky = "Zie @iemand | <b>vet</b> *ster* ``` en `code`"
    (repo / "posts" / "nieuw.md").write_text(post(tricky, publish_at="2027-11-20 09:00"))
    (repo / "posts" / "tekst.md").write_text(post(f"{tricky}\n\nTweede regel.", publish_at="2027-11-17 09:00"))

    text = campaign(repo, "diff", "main", "--format", "markdown").stdout

    # In a table: one code span, the pipe escaped for the table; in a diff block: a longer fence.
    assert "| `nieuw` | ```` Zie @iemand \\| <b>vet</b> *ster* ``` en `code` ```` |" in text
    assert f"````diff\n-Oude zin.\n+{tricky}\n \n Tweede regel.\n````" in text


def test_a_post_made_draft_leaves_the_schedule_unless_drafts_are_compared(repo: Path) -> None:
    (repo / "posts" / "blijft.md").write_text(
        post("Blijft hetzelfde.", publish_at="2027-11-15 09:00", channels=BOTH, draft="true")
    )

    assert summary(compare(repo, "main"))["removed"] == ["blijft@bluesky", "blijft@mastodon", "weg@mastodon"]
    with_drafts = summary(compare(repo, "main", drafts=True))
    assert with_drafts["draft"] == ["blijft@bluesky", "blijft@mastodon"]
    assert with_drafts["removed"] == ["weg@mastodon"]


def test_the_pull_request_view_names_a_post_by_its_title_and_by_its_id_where_it_has_none(repo: Path) -> None:
    (repo / "posts" / "nieuw.md").write_text(
        post("Helemaal nieuw.", publish_at="2027-11-20 09:00", title='"Dag 6: deel het | verder"')
    )
    text = campaign(repo, "diff", "main", "--format", "markdown").stdout
    assert "`Dag 6: deel het \\| verder`" in text and "`nieuw`" not in text
    assert "| `later` |" in text  # no title: its id
