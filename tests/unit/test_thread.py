"""The splitter of long texts into threads (scheduler.content.thread)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.content.networks import limits_for
from scheduler.content.text import graphemes
from scheduler.content.thread import split
from scheduler.posts import LengthRule

NUMBER = re.compile(r" (\d+)/(\d+)$")
URL = "https://www.weektegenkindermishandeling.nl/verhalen/een-heel-lang-pad-naar-het-verhaal-van-anna"


def rule(limit: int, max_bytes: int | None = None) -> LengthRule:
    return LengthRule("characters", limit, graphemes, max_bytes)


def unnumbered(part: str) -> str:
    return NUMBER.sub("", part)


def test_parts_end_at_paragraphs_and_are_numbered() -> None:
    text = "Eerste alinea is kort.\n\nTweede alinea is ook kort.\n\nDerde alinea."
    parts = split(text, rule(40))
    assert parts == ("Eerste alinea is kort. 1/3", "Tweede alinea is ook kort. 2/3", "Derde alinea. 3/3")


def test_a_long_paragraph_ends_at_a_sentence_before_a_word() -> None:
    text = "Een korte zin. En dan een heel lange zin die doorgaat en doorgaat"
    parts = split(text, rule(40))
    assert parts is not None
    assert parts[0] == "Een korte zin. 1/3"
    assert all(graphemes(p) <= 40 for p in parts)


def test_the_first_suffix_goes_on_the_first_part_only() -> None:
    text = "Een. Twee. Drie. Vier. Vijf. Zes. Zeven. Acht. Negen. Tien."
    parts = split(text, rule(30), first_suffix="\n\n#wtk")
    assert parts is not None and len(parts) > 1
    assert parts[0].endswith("\n\n#wtk 1/" + str(len(parts)))
    assert not any("#wtk" in p for p in parts[1:])


def test_a_word_longer_than_the_limit_cannot_be_split() -> None:
    assert split("kort " + "x" * 50, rule(30)) is None


def test_a_url_counted_as_23_on_mastodon_stays_whole() -> None:
    mastodon = limits_for("mastodon", {"max_characters": 60}).length
    text = " ".join(["Lees het verhaal op", URL, "en deel het."] * 3)
    parts = split(text, mastodon)
    assert parts is not None
    assert all(mastodon.measure(p) <= 60 for p in parts)
    assert sum(p.count(URL) for p in parts) == 3


def test_the_number_widens_past_nine_parts() -> None:
    text = " ".join(f"Zin {i}." for i in range(40))
    parts = split(text, rule(16))
    assert parts is not None and len(parts) >= 10
    assert all(graphemes(p) <= 16 for p in parts)
    assert [NUMBER.search(p).groups() for p in parts] == [  # type: ignore[union-attr]
        (str(i), str(len(parts))) for i in range(1, len(parts) + 1)
    ]


WORDS = st.one_of(
    st.text(alphabet="abcdéfgh日👍🏽", min_size=1, max_size=12),
    st.builds(lambda t: "#" + t, st.text(alphabet="abcxyz", min_size=1, max_size=10)),
    st.builds(lambda t: f"https://example.org/{t}", st.text(alphabet="abc", min_size=0, max_size=20)),
    st.sampled_from(["Zo.", "echt?", "Ja!", "—"]),
)
SEPARATORS = st.sampled_from([" ", " ", " ", "\n", "\n\n"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, min_size=1, max_size=60))
    return "".join(w + draw(SEPARATORS) for w in words).strip()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts(), network=st.sampled_from(["x", "mastodon", "bluesky"]), limit=st.integers(45, 300))
def test_every_part_fits_and_the_words_come_back_in_order(text: str, network: str, limit: int) -> None:
    length = limits_for(network, {"max_characters": limit}).length
    if network != "mastodon":
        length = LengthRule(length.unit, limit, length.count, length.max_bytes and limit * 4)
    parts = split(text, length, first_suffix="\n\n#tag")
    if parts is None:  # only when one word is too long even on a part of its own
        assert any(length.problems(w + "\n\n#tag 9/9") for w in text.split())
        return
    assert all(not length.problems(p) for p in parts)
    numbers = [NUMBER.search(p) for p in parts]
    assert [m.groups() if m else None for m in numbers] == [(str(i), str(len(parts))) for i in range(1, len(parts) + 1)]
    first_words = unnumbered(parts[0]).removesuffix("\n\n#tag").split()
    rest = [w for p in parts[1:] for w in unnumbered(p).split()]
    assert first_words + rest == text.split()  # every word, whole (URLs and hashtags too), in order
