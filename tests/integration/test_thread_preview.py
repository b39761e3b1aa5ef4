"""`thread: true` as a writer sees it: validate, and preview in every format, with every part."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.builders import post, run_campaign, write_campaign
from tests.unit.test_html import cards, parse

CHANNELS = """\
channels:
  mastodon: {type: dryrun, like: mastodon, max_characters: 120}
  telegram: {type: dryrun, like: telegram}
  hook: {type: dryrun, like: webhook, format: discord}
"""
DEFAULTS = """\
campaign: Test
timezone: Europe/Amsterdam
language: nl
hashtags: ["#wtk"]
"""
STORY = "\n\n".join(
    f"Alinea {i}: dit is een deel van een lang ervaringsverhaal dat niet in één bericht past." for i in range(1, 5)
)


def story(tmp_path: Path, channels: str = "[mastodon, telegram]", body: str = STORY, **front: str) -> Path:
    return write_campaign(
        tmp_path,
        {"verhaal.md": post(body, publish_at="2030-03-04 10:00", channels=channels, **front)},
        channels=CHANNELS,
        defaults=DEFAULTS,
    )


def sends(root: Path) -> list[dict[str, object]]:
    result = run_campaign(root, "preview", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return list(json.loads(result.stdout)["sends"])


def test_a_thread_is_split_on_the_network_with_replies_and_whole_elsewhere(tmp_path: Path) -> None:
    root = story(tmp_path, thread="true")
    assert run_campaign(root, "validate").returncode == 0
    by_channel = {s["channel"]: s for s in sends(root)}
    parts = by_channel["mastodon"]["parts"]
    assert isinstance(parts, list) and len(parts) == 4
    assert [re.search(r" (\d)/4$", p).group(1) for p in parts] == ["1", "2", "3", "4"]  # type: ignore[union-attr]
    assert by_channel["mastodon"]["text"] == parts[0]
    assert "#wtk" in parts[0] and not any("#wtk" in p for p in parts[1:])  # the tags once, at the start
    assert by_channel["telegram"]["parts"] == []  # no replies there: the text goes whole
    assert "Alinea 4" in str(by_channel["telegram"]["text"])


def test_without_thread_a_long_text_stays_an_error(tmp_path: Path) -> None:
    result = run_campaign(story(tmp_path), "validate")
    assert result.returncode == 1
    assert "posts/verhaal.md:" in result.stdout + result.stderr
    assert "over the limit of 120" in result.stdout + result.stderr


def test_thread_on_a_network_without_replies_stays_an_error(tmp_path: Path) -> None:
    result = run_campaign(story(tmp_path, channels="[hook]", body="\n\n".join([STORY] * 8), thread="true"), "validate")
    assert result.returncode == 1
    assert "posts/verhaal.md:" in result.stdout
    assert "over the limit of 2000" in result.stdout


def test_text_markdown_and_html_previews_show_every_part(tmp_path: Path) -> None:
    root = story(tmp_path, channels="[mastodon]", thread="true")
    text = run_campaign(root, "preview").stdout
    assert [f"thread part {i}/4" in text for i in range(1, 5)] == [True] * 4
    assert [f"Alinea {i}" in text for i in range(1, 5)] == [True] * 4
    markdown = run_campaign(root, "preview", "--format", "markdown").stdout
    assert [f"**Draad {i}/4**" in markdown for i in range(1, 5)] == [True] * 4
    page = tmp_path / "preview.html"
    assert run_campaign(root, "preview", "--format", "html", "-o", str(page)).returncode == 0
    parsed = parse(page.read_text(encoding="utf-8"))
    found = cards(parsed)
    assert len(found) == 4
    assert all("is-thread" in str(card["class"]) for card in found)
    assert [f"Alinea {i}" in t for i, t in enumerate(parsed.texts, 1)] == [True] * 4


def test_diff_shows_every_part_of_a_thread_as_it_will_go_out(tmp_path: Path) -> None:
    from tests.integration.test_diff import commit, git

    root = story(tmp_path / "repo", channels="[mastodon]")
    git(root, "init", "-q", "-b", "main")
    commit(root, "base: one long post, not yet a thread")
    (root / "posts" / "verhaal.md").write_text(
        post(STORY, publish_at="2030-03-04 10:00", channels="[mastodon]", thread="true"), encoding="utf-8"
    )
    result = run_campaign(root, "diff", "HEAD")
    assert result.returncode == 0, result.stderr
    assert [f"[thread part {i}/4]" in result.stdout for i in range(1, 5)] == [True] * 4
    assert "Alinea 4" in result.stdout


def test_a_word_too_long_for_any_part_is_an_error_naming_the_file(tmp_path: Path) -> None:
    body = STORY + "\n\n" + "x" * 130
    result = run_campaign(story(tmp_path, channels="[mastodon]", body=body, thread="true"), "validate")
    assert result.returncode == 1
    assert "posts/verhaal.md:" in result.stdout
    assert "a word is too long for one part of a thread" in result.stdout


def test_images_go_on_the_first_part(tmp_path: Path) -> None:
    from tests.unit.test_html import PIXEL

    root = story(tmp_path, channels="[mastodon]", thread="true", media="[{path: handen.png, alt: Twee handen}]")
    (root / "handen.png").write_bytes(PIXEL)
    text = run_campaign(root, "preview").stdout
    assert text.index("[image] handen.png") < text.index("thread part 2/4")
