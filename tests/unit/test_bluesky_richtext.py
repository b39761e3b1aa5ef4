"""Facets at UTF-8 byte offsets, and record keys derived from publication keys."""

from __future__ import annotations

import pytest

from scheduler.channels.bluesky_richtext import (
    S32,
    encode_tid,
    facets,
    find_spans,
    is_tid,
    tid_for_key,
)

TEXT = "Één 👩‍👧 #DoorbreekJIJDeStilte https://example.org/hulp?x=1 @hulp.bsky.social."


def piece(text: str, start: int, end: int) -> str:
    return text.encode("utf-8")[start:end].decode("utf-8")


def test_offsets_are_utf8_bytes_after_accents_and_a_zwj_emoji() -> None:
    spans = find_spans(TEXT)

    assert [(s.kind, piece(TEXT, s.start, s.end)) for s in spans] == [
        ("tag", "#DoorbreekJIJDeStilte"),
        ("link", "https://example.org/hulp?x=1"),
        ("mention", "@hulp.bsky.social"),
    ]
    # "Één " is 6 bytes (É and é take 2 each), the family emoji 11 bytes, then a space.
    assert spans[0].start == 6 + 11 + 1
    assert spans[0].start != TEXT.index("#")  # the code point index would be wrong


def test_facets_carry_the_link_uri_the_tag_without_hash_and_the_resolved_did() -> None:
    result = facets(TEXT, {"hulp.bsky.social": "did:plc:hulp"}.get)

    features = [facet["features"][0] for facet in result]
    assert features == [
        {"$type": "app.bsky.richtext.facet#tag", "tag": "DoorbreekJIJDeStilte"},
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/hulp?x=1"},
        {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:hulp"},
    ]
    for facet in result:
        index = facet["index"]
        assert piece(TEXT, index["byteStart"], index["byteEnd"])[0] in "#h@"


def test_an_unresolvable_mention_gets_no_facet_and_no_error() -> None:
    result = facets("Vraag @niemand.example om hulp", lambda handle: None)

    assert result == []


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("Doe mee: #JIJ!", "JIJ"),
        ("Doe mee: #JIJ.", "JIJ"),
        ("(zie #hulplijn), nu", "hulplijn"),
        ("#stilte?!", "stilte"),
        ("Steun #kinderen… echt", "kinderen"),
        ("#123abc", "123abc"),
    ],
)
def test_hashtags_lose_trailing_punctuation(text: str, tag: str) -> None:
    spans = [s for s in find_spans(text) if s.kind == "tag"]

    assert [s.value for s in spans] == [tag]
    assert piece(text, spans[0].start, spans[0].end) == "#" + tag


@pytest.mark.parametrize("text", ["#123 is a number", "mail#tag", "https://example.org/#anker", "# los"])
def test_no_hashtag_where_the_bluesky_app_sees_none(text: str) -> None:
    assert [s for s in find_spans(text) if s.kind == "tag"] == []


def test_a_full_width_hash_is_a_hashtag_of_three_bytes() -> None:
    text = "Samen ＃sterk"

    (span,) = find_spans(text)

    assert (span.value, span.end - span.start) == ("sterk", 3 + 5)


@pytest.mark.parametrize("text", ["info@hulp.nl", "@alleen", "@user@mastodon.social"])
def test_addresses_and_bare_words_are_not_mentions(text: str) -> None:
    assert [s for s in find_spans(text) if s.kind == "mention"] == []


def test_tid_from_a_key_is_valid_and_always_the_same() -> None:
    key = "2024/11-19-dag:bluesky:v3"

    rkey = tid_for_key(key)

    assert rkey == tid_for_key(key)
    assert len(rkey) == 13 and set(rkey) <= set(S32) and is_tid(rkey)


def test_distinct_keys_give_distinct_tids() -> None:
    rkeys = {tid_for_key(f"post-{n}:bluesky:v1") for n in range(5000)}

    assert len(rkeys) == 5000
    assert all(is_tid(rkey) for rkey in rkeys)


def test_derived_tid_timestamps_lie_in_the_past() -> None:
    import time

    for n in range(200):
        value = 0
        for char in tid_for_key(f"k{n}"):
            value = value * 32 + S32.index(char)
        micros = value >> 10
        assert 1_672_531_200_000_000 <= micros < time.time() * 1_000_000


def test_tid_encoding_matches_the_spec_examples() -> None:
    assert encode_tid(0) == "2222222222222"
    assert is_tid("3jzfcijpj2z2a")
    assert not is_tid("3jzfcijpj2z2")  # 12 characters
    assert not is_tid("kzzzzzzzzzzzz")  # top bit set
    with pytest.raises(ValueError):
        encode_tid(1 << 63)
