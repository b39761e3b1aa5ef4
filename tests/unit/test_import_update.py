"""A post file updated by an imported row: only the keys that change are written again, every other
key, its order and its comments kept; a file this cannot edit in place is written whole, never
losing a key."""

from __future__ import annotations

import frontmatter

from scheduler.importers.update import REMOVE, updated

POST = """---
# Onze opmerking over deze post.
title: "Dag 1: start"   # de titel
publish_at: 2027-11-15 09:00
overrides:
  bluesky:
    body: Korter.
vars: {extra: ja}
media:
  - path: media/a.png
    alt: Een foto
# en dan de tekst
---
Eerste tekst.
"""


def test_only_the_changed_keys_and_the_text_are_written_again() -> None:
    new = updated(POST, {"publish_at": "2027-11-16 10:00", "channels": ["mastodon"]}, "Tweede tekst.")
    assert new == POST.replace("publish_at: 2027-11-15 09:00", "publish_at: '2027-11-16 10:00'").replace(
        "# en dan de tekst\n", "# en dan de tekst\nchannels: [mastodon]\n"
    ).replace("Eerste tekst.", "Tweede tekst.")


def test_a_key_taken_out_leaves_the_others_and_their_comments() -> None:
    new = updated(POST, {"media": REMOVE, "title": "Nieuw"}, None)
    assert "media" not in frontmatter.loads(new).metadata
    assert "# Onze opmerking over deze post.\ntitle: Nieuw\npublish_at" in new
    assert (
        "overrides:\n  bluesky:\n    body: Korter.\nvars: {extra: ja}\n# en dan de tekst\n---\nEerste tekst.\n" in new
    )


def test_a_file_that_cannot_be_edited_in_place_is_written_whole_and_keeps_every_key() -> None:
    odd = "---\n  title: a\n  max_late: 1 hour\n  card: {url: 'https://x.nl'}\n---\nTekst\n"  # indented keys
    new = updated(odd, {"title": "Gewoon"}, None)
    assert frontmatter.loads(new).metadata == {"title": "Gewoon", "max_late": "1 hour", "card": {"url": "https://x.nl"}}
    assert new.endswith("---\nTekst\n")


def test_a_file_without_front_matter_gets_it() -> None:
    assert updated("Alleen tekst.\n", {"title": "Titel"}, None) == "---\ntitle: Titel\n---\nAlleen tekst.\n"


def test_a_file_with_a_byte_order_mark_and_windows_line_ends_is_read_as_posts_are() -> None:
    windows = "\ufeff---\r\ntitle: Oud\r\nmax_late: 1 hour\r\n---\r\nTekst\r\n"
    assert updated(windows, {"title": "Nieuw"}, None) == "---\ntitle: Nieuw\nmax_late: 1 hour\n---\nTekst\n"
