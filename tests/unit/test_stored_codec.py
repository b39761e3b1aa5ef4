"""The store's codec (scheduler.content.stored_codec): what it writes reads back as the very same values,
and what it did not write is refused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from scheduler.content import campaign as campaign_file
from scheduler.content.drafts import read_all
from scheduler.content.render import Renderer
from scheduler.content.stored_codec import CODEC, Miss
from scheduler.content.yamlfile import LineDict, LineList
from tests.builders import write_campaign

EVERYTHING = """\
---
id: alles/een
title: Alles
publish_at: 2027-11-15 09:00
channels: [mastodon, bluesky]
hashtags: ["#Samen"]
media:
  - {path: media/a.png, alt: Een vlak}
overrides:
  bluesky:
    body: |
      Kort: {{ vars.lijst[1] }}.
    hashtags: []
max_late: 2 hours
allow_repeat: true
card: {title: Lees meer, description: Over de week}
vars:
  diep: {a: [1, 2.5, true, null, 2027-11-15, 2027-11-15 10:00:00+01:00], 7: x}
  lijst: [een, twee]
language: en
thread: true
link_check: warn
signoff: [team]
---
{{ post.title }}: {{ vars.diep.a[1] }} en {{ vars.lijst | join(', ') }}.
"""


def walk(value: Any) -> list[tuple[type, Any]]:
    """Every value inside `value` with its exact type, and the lines its YAML containers remember."""
    found: list[tuple[type, Any]] = [(type(value), getattr(value, "line", None))]
    if isinstance(value, dict):
        found.append((dict, getattr(value, "lines", None)))
        for key, item in value.items():
            found += [(type(key), key), *walk(item)]
    elif isinstance(value, list):
        found.append((list, getattr(value, "lines", None)))
        for item in value:
            found += walk(item)
    return found


def test_a_post_with_every_field_reads_back_equal_with_its_types_and_lines(tmp_path: Path) -> None:
    root = write_campaign(tmp_path, {"a.md": EVERYTHING})
    (root / "posts" / "series").mkdir()
    (root / "posts" / "series" / "_defaults.yml").write_text("schedule: {start: 2027-11-16 09:00, every: 1 day}\n")
    (root / "posts" / "series" / "b.md").write_text("Deel van een reeks.\n")
    campaign, _ = campaign_file.load(root)
    drafts, problems = read_all(campaign)
    assert len(drafts) == 2, problems
    for draft in drafts:
        stored = json.loads(json.dumps(CODEC.draft(draft)))
        back = CODEC.undraft(stored)
        assert back == draft
        assert walk(dict(back.vars)) == walk(dict(draft.vars))
        assert walk(back.schedule) == walk(draft.schedule)
    full = next(d for d in drafts if d.id == "alles/een")
    assert isinstance(full.vars["diep"], LineDict) and isinstance(full.vars["lijst"], LineList)  # what is kept
    renderer = Renderer(campaign)
    for channel in campaign.channels.values():
        assert renderer.render(CODEC.undraft(CODEC.draft(full)), channel, full.publish_at) == renderer.render(
            full, channel, full.publish_at
        )


def test_a_rendered_send_reads_back_equal_and_one_with_problems_or_media_is_not_kept(tmp_path: Path) -> None:
    root = write_campaign(
        tmp_path,
        {"a.md": "---\npublish_at: 2027-11-15 09:00\ncard: {title: Kaart}\n---\nBel {{ vars.x }}.\n"},
        defaults="campaign: T\ntimezone: Europe/Amsterdam\nchannels: [mastodon]\nvars: {x: 0800-0000}\n",
    )
    campaign, _ = campaign_file.load(root)
    (draft,), _ = read_all(campaign)
    rendered = Renderer(campaign).render(draft, campaign.channels["mastodon"], draft.publish_at)
    assert rendered.problems  # the starter's placeholder number
    with pytest.raises(Miss):
        CODEC.rendered(rendered)
    clean = Renderer(campaign).render(
        replace(draft, vars={"x": "0800-2000"}), campaign.channels["mastodon"], draft.publish_at
    )
    assert CODEC.unrendered(json.loads(json.dumps(CODEC.rendered(clean)))) == clean


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "text",
        [],
        [1] * 22,
        ["x"] * 22,
        {"id": "a"},
        ["m", 1, [[1, 2]], []],
        ["dt", "2027-11-15T09:00:00[Europe/Amsterdam]"],
        ["unknown tag", 1],
        ["__import__('os')", "system"],
    ],
)
def test_what_the_codec_did_not_write_is_refused(raw: Any) -> None:
    with pytest.raises((Miss, ValueError)):
        CODEC.undraft(raw)
    with pytest.raises((Miss, ValueError)):
        CODEC.unrendered(raw)


def test_values_of_other_types_are_not_kept() -> None:
    class Sneaky(dict):  # type: ignore[type-arg]
        pass

    for value in (Sneaky(), {1, 2}, b"bytes", object(), (1, 2)):
        with pytest.raises(Miss):
            CODEC.data(value)
