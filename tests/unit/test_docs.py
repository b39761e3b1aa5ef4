"""The README is a newcomer's page that links every page in docs/, every relative link in them
leads somewhere, and every `campaign ...` command they show is one the tool has (issue #18, item 7)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scheduler.cli.main import main

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = sorted((REPO / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`]+)`", re.S)
COMMAND = re.compile(r"(?:^|[\s(])(?:\.venv/bin/)?campaign(?:\s+--root\s+\S+)?((?:\s+[a-z][a-z-]*){1,2})")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / target.split("#")[0]).resolve() for target in LINK.findall(README.read_text("utf-8"))}
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(target)
    assert broken == []


def commands_shown(page: Path) -> set[tuple[str, ...]]:
    """Each `campaign <command> [<subcommand>]` in the page's code, as the words after `campaign`."""
    found = set()
    for block, span in CODE.findall(page.read_text(encoding="utf-8")):
        for match in COMMAND.finditer(block or span):
            found.add(tuple(match.group(1).split()))
    return found


def resolve(words: tuple[str, ...]) -> list[str] | None:
    """The command path the words name (a group's subcommand included), or None if there is none."""
    command = main.get_command(click.Context(main), words[0])
    if command is None:
        return None
    if isinstance(command, click.Group) and len(words) > 1 and command.get_command(click.Context(command), words[1]):
        return list(words[:2])
    return [words[0]]


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_campaign_command_the_page_shows_exists_and_its_help_runs(page: Path) -> None:
    shown = commands_shown(page)
    unknown = sorted(" ".join(words) for words in shown if resolve(words) is None)
    assert unknown == []
    for path in {tuple(resolve(words) or ()) for words in shown}:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)


def test_the_readme_is_a_newcomer_s_page() -> None:
    text = README.read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections == ["Quick start", "Start your own campaign", "Commands", "Where to read on"]
    assert len(text.encode()) < 16_000
