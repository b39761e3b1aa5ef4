"""The two rules behind issue #17's items 4 and 8, for every text: a CSV cell never starts a formula and
reads back as it was written; text shown in a terminal holds nothing it obeys, and JSON stays exact."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.formulas import STARTS, defuse, restore
from scheduler.terminal import in_json, shown

OBEYED = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# No deadline: CI runs on two busy cores, and a slow example is no wrong one.
ROBUST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
texts = st.text(alphabet=st.sampled_from([*STARTS, "'", "a", " ", "\n", "|", "é"]) | st.characters(), max_size=30)


@ROBUST
@given(texts)
def test_a_cell_never_starts_a_formula_and_reads_back_as_it_was(text: str) -> None:
    cell = defuse(text)
    assert isinstance(cell, str)
    assert not cell.startswith(STARTS) or cell == "-"
    assert restore(cell) == text


@ROBUST
@given(texts)
def test_shown_text_holds_nothing_a_terminal_obeys(text: str) -> None:
    assert not OBEYED.search(shown(text, lines=True))
    one_line = shown(text)
    assert not OBEYED.search(one_line) and "\n" not in one_line


@ROBUST
@given(texts)
def test_json_stays_exact_and_holds_nothing_a_terminal_obeys(text: str) -> None:
    dumped = in_json(json.dumps({"text": text}, ensure_ascii=False))
    assert not OBEYED.search(dumped)
    assert json.loads(dumped) == {"text": text}
