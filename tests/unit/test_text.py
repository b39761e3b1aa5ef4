from __future__ import annotations

import random

import pytest
import twitter_text

from scheduler.content.networks import limits_for
from scheduler.content.text import graphemes, mastodon_length, threads_length, utf16_units, x_weighted_length

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one ZWJ sequence: 7 code points
E_ACUTE = "e\u0301"  # e + combining acute accent


@pytest.mark.parametrize(
    ("text", "expected"),
    [("abc", 3), (FAMILY, 1), (E_ACUTE, 1), ("日本語", 3), ("🇳🇱", 1), ("Één 👍🏽", 5), ("", 0)],
)
def test_graphemes_count_user_perceived_characters(text: str, expected: int) -> None:
    assert graphemes(text) == expected


def test_mastodon_counts_every_url_as_23_and_remote_mentions_by_local_part() -> None:
    url = "https://www.weektegenkindermishandeling.nl/verhalen/een-heel-lang-pad-naar-een-verhaal"
    assert mastodon_length(f"Lees {url}") == 5 + 23
    assert mastodon_length("hoi @kim@mastodon.social") == len("hoi @kim")
    assert mastodon_length(f"{FAMILY} {E_ACUTE}") == 3


def test_x_weighs_cjk_and_emoji_double_and_urls_as_23() -> None:
    assert x_weighted_length("日本") == 4
    assert x_weighted_length(FAMILY) == 2
    assert x_weighted_length("zie https://example.org/a/b/c/d/e/f/g/h") == 4 + 23
    assert x_weighted_length("Één café") == 8


def test_x_fast_path_agrees_with_twitter_text_on_mixed_text() -> None:
    pieces = [
        "abc ",
        "é",
        "ë",
        "\u0301",
        "©",
        "®",
        " www.example.nl ",
        "https://x.org/a",
        "👍",
        "日",
        "ж",
        "\n",
        "#tag ",
    ]
    rng = random.Random(7)
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert x_weighted_length(text) == twitter_text.parse_tweet(text).weightedLength, text


def test_bluesky_has_a_grapheme_and_a_byte_limit() -> None:
    rule = limits_for("bluesky", {}).length
    assert rule.problems("a" * 300) == []
    assert rule.problems("a" * 301) == ["text is 301 graphemes, over the limit of 300"]
    assert rule.problems(FAMILY * 200) == ["text is 5000 UTF-8 bytes, over the limit of 3000"]


def test_telegram_counts_utf16_units_and_mastodon_limit_is_configurable() -> None:
    assert utf16_units("👍") == 2
    assert limits_for("telegram", {}).length.measure("👍") == 2
    assert limits_for("mastodon", {"max_characters": 1000}).length.limit == 1000
    assert limits_for("mastodon", {}).length.limit == 500


def test_a_word_too_long_to_be_a_url_is_counted_as_plain_text() -> None:
    word = "http://" + "a." * 1500 + "nl"  # twitter-text's pattern takes 13 s and more on this
    assert mastodon_length(word) == len(word)
    assert x_weighted_length(word) == len(word)


def test_threads_counts_characters_and_each_emoji_as_its_utf8_bytes_as_the_threads_api_documents() -> None:
    # Threads API, "Posts", Limitations: "Text posts are limited to 500 characters. Emojis are counted as the
    # number of UTF-8 bytes." A letter with an accent is one character; an emoji is all of its bytes.
    assert threads_length("Praat erover") == 12
    assert threads_length("café") == 4  # é is 2 bytes but no emoji: one character
    assert threads_length("😀") == 4
    assert threads_length("❤️") == 6  # the heart and its variation selector
    assert threads_length("🇳🇱") == 8  # a flag: two regional indicators
    assert threads_length("1️⃣") == 7  # a keycap
    assert threads_length("👨‍👩‍👧") == 18  # a family joined by ZWJs: one emoji, every byte
    assert threads_length("Hoi 💙 jij") == 8 + 4
