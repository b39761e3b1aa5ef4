"""Every alert the publisher and the results collector can raise is made from a marked message
(`Said.of(N_("..."))`), so it is written in the campaign's language: a walk over scheduler/publish/ and
scheduler/results/ finds each place an alert is made and what its message is built from. (A message without
Dutch words fails tests/unit/test_words.py.)"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.publish import holds
from scheduler.publish.alerts import Alerter
from scheduler.publish.ledger import Ledger
from scheduler.words import N_, Said, translator

PUBLISH = Path(__file__).resolve().parents[2] / "scheduler" / "publish"
RESULTS = PUBLISH.parent / "results"
SINKS = {"alerts.py"}  # the Alerter itself: it writes what it is given in the campaign's language
# Alerts whose words are written outside scheduler/publish/, with the reason they are not marked here.
NOT_HERE = {
    ("publisher.py", "_dead_links", "verdict.alert"): "the link check's own words (scheduler.links.gate)",
    ("telling.py", "files", "posts[path]"): "a marked message of scheduler.publish.planning.unplanned_message",
    ("telling.py", "files", "ahead[path]"): "a marked message of scheduler.publish.telling._ahead",
    ("collector.py", "alert_watched", "message"): "a marked message of scheduler.results.collector._alert_text",
}


def _marked(node: ast.expr, names: dict[str, list[ast.expr]], seen: frozenset[str] = frozenset()) -> bool:
    """Whether `node` is a marked message: `Said.of(...)`, a name only ever bound to one, or the Alerter's
    `say(...)`/`redact(...)` of one."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "of" and isinstance(func.value, ast.Name):
            return func.value.id == "Said"
        if isinstance(func, ast.Attribute) and func.attr == "say" and node.args:
            return _marked(node.args[0], names, seen)
        if isinstance(func, ast.Name) and func.id == "redact" and node.args:
            return _marked(node.args[0], names, seen)
        return False
    if isinstance(node, ast.Name) and node.id in names and node.id not in seen:
        return all(_marked(value, names, seen | {node.id}) for value in names[node.id])
    return False


def alert_sites() -> list[tuple[str, str, int, str, bool]]:
    """(file, function, line, the message's source, marked) of every alert made in scheduler/publish/ and
    scheduler/results/."""
    found = []
    for path in sorted([*PUBLISH.rglob("*.py"), *RESULTS.rglob("*.py")]):
        if path.name in SINKS or "store" in path.parts or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            names: dict[str, list[ast.expr]] = {}
            for node in ast.walk(function):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            names.setdefault(target.id, []).append(node.value)
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                messages: list[ast.expr] = []
                func = call.func
                if isinstance(func, ast.Attribute) and func.attr in ("alert", "record_alert") and len(call.args) >= 4:
                    messages.append(call.args[3])
                if isinstance(func, ast.Attribute) and func.attr == "alert_reply" and len(call.args) >= 2:
                    messages.append(call.args[1])  # a watched reply's alert, recorded with the reply
                for keyword in call.keywords:
                    if keyword.arg == "alert" and isinstance(keyword.value, ast.Tuple):
                        messages.append(keyword.value.elts[1])
                for message in messages:
                    source = ast.unparse(message)
                    found.append((path.name, function.name, call.lineno, source, _marked(message, names)))
    return found


SITES = alert_sites()


def test_the_walk_finds_the_alerts() -> None:  # a guard: an empty walk would pass the test below
    files = {site[0] for site in SITES}
    assert {"publisher.py", "settling.py", "daemon.py", "threads.py", "collector.py"} <= files and len(SITES) >= 16


def test_every_alert_the_publisher_and_the_collector_raise_is_made_from_a_marked_message() -> None:
    unmarked = [
        f"{file}:{line}: {source}"
        for file, function, line, source, marked in SITES
        if not marked and (file, function, source) not in NOT_HERE
    ]
    assert unmarked == [], "make each alert as Said.of(N_(...), ...) (scheduler/words; docs/translating.md)"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_an_alert_is_recorded_in_the_campaigns_language(tmp_path: Path, language: str) -> None:
    book = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        book.upgrade()
        alerter = Alerter(book, None, language)
        said = Said.of(N_("its time has come but it is not sent: {reasons}"), reasons="x")
        alerter.alert("held", "een", "mastodon", said, datetime.now(UTC))
        [alert] = book.alerts.latest()
    finally:
        book.close()
    assert alert.message == translator(language).gettext(said.msgid).format(reasons="x")


def test_a_hold_is_written_in_the_readings_language_and_a_link_hold_stays_recognisable() -> None:
    from scheduler.content.problems import error

    broken = error("posts/a.md", 3, "unknown key 'chanels'")
    dutch = holds.reason([broken], "", "nl")
    assert dutch.startswith(translator("nl").gettext("held until fixed: {problems}").split("{")[0])
    assert "posts/a.md:3: " in dutch and "unknown key 'chanels'" in dutch
    assert holds.reason([broken], "", "en") == f"held until fixed: {broken}"  # as the command line says it
    assert holds.is_link_hold(holds.link_hold("https://example.org is dead"))  # English: the ledger finds it so
    repeat = "the same text already went out on {channel} as {post}; set allow_repeat: true to send it again"
    expected = translator("nl").gettext(repeat).format(channel="mastodon", post="gaat")
    assert (
        holds.repeat_hold("mastodon", "kopie", "gaat", False, "nl")
        == expected
        != repeat.format(channel="mastodon", post="gaat")
    )
