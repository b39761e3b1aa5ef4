"""Every message people read is in the catalogs (scheduler/words), and complete in every language there:
extracted from the source as `pybabel extract -F babel.cfg` does, so a message added without its Dutch
words fails here, not on a volunteer's screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from scheduler.words import N_, catalog_file, languages, translator

REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def extracted() -> dict[str | tuple[str, ...], str]:
    """msgid → where it is, for every message in the source (babel.cfg says which files and how)."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: dict[str | tuple[str, ...], str] = {}
    for path, line, message, _comments, _context in extract_from_dir(
        str(REPO), method_map, options_map, keywords=keywords
    ):
        found.setdefault(message, f"{path}:{line}")
    return found


def catalog(language: str) -> Catalog:
    with catalog_file(language).open("rb") as po:
        return read_po(po, locale=language)


MESSAGES = extracted()


def test_the_walk_finds_the_messages() -> None:  # a guard: an empty extraction would pass every test below
    assert "Pause everything" in MESSAGES and ("{n} reply", "{n} replies") in MESSAGES
    assert languages() == ["nl"]


@pytest.mark.parametrize("language", languages())
def test_every_message_has_its_words_in_every_language(language: str) -> None:
    found = catalog(language)
    missing = []
    for message, where in MESSAGES.items():
        key = message[0] if isinstance(message, tuple) else message
        entry = found.get(key)
        forms = entry.string if entry is not None else None
        strings = forms if isinstance(forms, tuple) else (forms,)
        if entry is None or entry.fuzzy or not all(strings) or len(strings) != (2 if isinstance(message, tuple) else 1):
            missing.append(f"{where}: {message!r}")
    assert missing == [], f"without {language} words (pybabel update, then translate; docs/translating.md)"


@pytest.mark.parametrize("language", languages())
def test_a_translation_keeps_the_placeholders_of_its_message(language: str) -> None:
    wrong = []
    for entry in catalog(language):
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(PLACEHOLDER.findall(str(ids[-1])))
        wrong += [f"{ids[0]!r} → {s!r}" for s in strings if set(PLACEHOLDER.findall(str(s))) != wanted]
    assert wrong == []


@pytest.mark.parametrize("language", languages())
def test_a_catalog_holds_no_message_the_source_no_longer_has(language: str) -> None:
    wanted = {m[0] if isinstance(m, tuple) else m for m in MESSAGES}
    assert (
        sorted(
            e.id if isinstance(e.id, str) else e.id[0]
            for e in catalog(language)
            if e.id and e.id not in wanted and (not isinstance(e.id, tuple) or e.id[0] not in wanted)
        )
        == []
    )


def test_every_message_is_english_where_a_language_has_no_catalog() -> None:
    for language in ("en", "de", "xx-nonsense", "en_GB"):
        words = translator(language)
        assert words.gettext(N_("Pause everything")) == "Pause everything"
        assert words.ngettext("{n} reply", "{n} replies", 1) == "{n} reply"
        assert words.ngettext("{n} reply", "{n} replies", 3) == "{n} replies"
    assert all(isinstance(m, tuple) or m.strip() for m in MESSAGES)  # no empty message


def test_plurals_follow_the_number_in_dutch() -> None:
    from scheduler.results.labels import count

    assert [count(n, "replies", "nl") for n in (0, 1, 2)] == ["0 reacties", "1 reactie", "2 reacties"]
    assert count(1, "reposts:facebook", "nl_BE") == "1 keer gedeeld"
    assert count(1_500, "reposts:facebook", "en") == "1,500 shares"


def test_a_kept_message_is_english_on_the_command_line_and_the_campaigns_language_on_its_pages() -> None:
    from scheduler.content.problems import error
    from scheduler.words import Said

    hint = Said.ngettext("{n} reply", "{n} replies", n=2)
    problem = error("posts/a.md", 3, Said.of(N_("Pause everything")))
    assert problem.message == "Pause everything" and problem.said_in("nl") == translator("nl").gettext(
        "Pause everything"
    )
    assert str(hint) == "2 replies" and hint.said_in("nl") == translator("nl").ngettext(
        "{n} reply", "{n} replies", 2
    ).format(n=2)
    # a message not marked yet reads English everywhere, rather than failing
    assert error("posts/a.md", 3, "plain words").said_in("nl") == "plain words"
    # a message without values is not a format string: its braces are text
    assert Said.of("write {{ x }}").said_in("nl") == "write {{ x }}"
