"""One post whose template would run for hours (issue #16): it is an error on its line, and nothing else waits.

`validate` and `preview` finish and name it, `run --once` still sends the other posts, and the dashboard
(the real `campaign serve`) answers /health, Now and the pause button while /calendar requests pile up.
Every timeout here is a hang guard, not a measure of speed.
"""

from __future__ import annotations

import re
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from scheduler.words import translator
from tests.integration.daemon_helpers import campaign, daemon, ledger, outbox, soon, wait_for, write
from tests.integration.test_web_browser import serving, session_for

# 10**12 loop turns: without a budget this renders for days, whoever asks for it
LOOPS_IN_LOOPS = (
    "Regel een\n{% for i in range(1000) %}\n{% for j in range(1000) %}\n{% for k in range(1000) %}\n"
    "{% for l in range(1000) %}{% endfor %}\n{% endfor %}{% endfor %}{% endfor %}"
)
# Each turn slow (a list of 100,000 items): stopped by the budget's clock, so each such post costs a plan
# about a second; a few of them make a plan that is slow even with the budget.
SLOW_TURNS = (
    "{% for i in range(1000) %}{% for j in range(1000) %}{{ ('x' * 99999) | list | length }}{% endfor %}{% endfor %}"
)
TOO_LONG = re.compile(r"posts/02-eindeloos\.md:8: error: this template runs too long")


def _campaign(tmp_path: Path) -> Path:
    return write(
        tmp_path / "campaign",
        {
            "01-hulplijn": (soon(-120), "Bel de hulplijn: 0800-2000."),  # due two minutes ago
            "02-eindeloos": (soon(3600), LOOPS_IN_LOOPS),
        },
    )


def test_validate_and_preview_finish_and_name_the_runaway_template_on_its_line(tmp_path: Path) -> None:
    root = _campaign(tmp_path)
    checked = campaign(root, "validate", timeout=60)
    assert checked.returncode == 1
    assert TOO_LONG.search(checked.stdout + checked.stderr), checked.stdout + checked.stderr
    shown = campaign(root, "preview", timeout=60)
    assert TOO_LONG.search(shown.stdout + shown.stderr), shown.stdout + shown.stderr
    assert "Bel de hulplijn: 0800-2000." in shown.stdout  # the other post is previewed as ever


def test_run_once_sends_the_post_that_is_due_beside_a_runaway_template(tmp_path: Path) -> None:
    root = _campaign(tmp_path)
    done = campaign(root, "run", "--once", timeout=60)
    assert done.returncode == 0, done.stderr
    assert [m["text"] for m in outbox(root)] == ["Bel de hulplijn: 0800-2000."]


def test_the_daemon_sends_the_post_that_is_due_beside_a_runaway_template(tmp_path: Path) -> None:
    root = _campaign(tmp_path)
    running = daemon(root)
    try:
        assert wait_for(lambda: len(outbox(root)) == 1, timeout=60)
    finally:
        running.send_signal(signal.SIGTERM)
        _out, err = running.communicate(timeout=30)
    assert [m["text"] for m in outbox(root)] == ["Bel de hulplijn: 0800-2000."]
    assert TOO_LONG.search(err), err  # the daemon logs it, as any broken post


@pytest.mark.slow
def test_the_dashboard_answers_health_now_pause_and_resume_while_calendars_wait_for_a_slow_plan(tmp_path: Path) -> None:
    with serving(tmp_path) as dashboard:
        write(
            dashboard.root,
            {f"eindeloos-{n}": (soon(3600 + n), f"Regel een\n{SLOW_TURNS}") for n in range(8)},
            channels=(dashboard.root / "channels.yml").read_text(encoding="utf-8"),
        )
        session, token = session_for(dashboard, "anna")
        cookies = session.cookies.get_dict()

        def calendar() -> int:
            return requests.get(dashboard.url + "/calendar", cookies=cookies, timeout=120).status_code

        with ThreadPoolExecutor(10) as pool:
            asked = [pool.submit(calendar) for _ in range(10)]  # more than the server's 8 threads
            # Two wait for the plan; the others are told at once that it is being prepared.
            assert wait_for(lambda: any(f.done() and f.result() == 503 for f in asked), timeout=60)
            assert requests.get(dashboard.url + "/health", timeout=60).status_code == 200
            assert "Alles gaat volgens plan" in session.get(dashboard.url + "/", timeout=60).text
            assert session.get(dashboard.url + "/now.json", timeout=60).json()["paused"] == []
            paused = session.post(
                dashboard.url + "/pause", data={"reason": "crisis: even stil", "csrf_token": token}, timeout=60
            )
            assert paused.status_code == 200
            book = ledger(dashboard.root)
            try:
                assert [p.reason for p in book.operators.pauses()] == ["crisis: even stil"]
                resumed = session.post(dashboard.url + "/resume", data={"csrf_token": token}, timeout=60)
                assert resumed.status_code == 200
                assert book.operators.pauses() == []
            finally:
                book.close()
            assert {f.result() for f in asked} <= {200, 503}
        # Once the plan is built, the calendar shows it, and a runaway post's page says what is wrong.
        assert wait_for(lambda: calendar() == 200, timeout=120)
        assert "eindeloos-0" in session.get(dashboard.url + "/calendar", timeout=60).text
        # the post page shows the problem in the campaign's language (Dutch): the words before its first value
        dutch = (
            translator("nl")
            .gettext("this template runs too long: {why}; look for loops inside loops, or a macro that calls itself")
            .split("{why}")[0]
        )
        assert dutch in session.get(dashboard.url + "/posts/eindeloos-0", timeout=60).text
