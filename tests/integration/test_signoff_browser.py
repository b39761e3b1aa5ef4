"""The sign-off page in a real Chromium against the real `campaign serve`, with the real daemon on the same
SQLite ledger: the storyteller opens the link, reads the post, clicks Akkoord, and it goes out at its time;
an edit after that shows on the page as a change; a link that does not work changes nothing; the token is
in no line of the server's log."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.daemon_helpers import (
    add_users,
    at,
    campaign,
    daemon,
    env_for,
    ledger,
    outbox,
    soon,
    states,
    wait_for,
)
from tests.integration.test_signoff import STORY, write_story
from tests.integration.test_web_browser import Dashboard, _free_port, browser, browser_paths, click_and_wait, log_in  # noqa: F401

pytestmark = pytest.mark.slow


@contextmanager
def serving(root: Path, logs: list[str]) -> Iterator[str]:
    """`campaign serve` on a free port over `root`; its output (stdout and stderr) appended to `logs` at the end."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = env_for(
        root,
        CAMPAIGN_SESSION_SECRET="s" * 48,
        CAMPAIGN_USERS_FILE=str(root / "users"),
        CAMPAIGN_PUBLIC_URL=url,
        CAMPAIGN_LOG_LEVEL="DEBUG",
    )
    add_users(env)  # `serve` starts only with an operator account; the page needs none
    server = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def healthy() -> bool:
        try:
            return requests.get(url + "/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        assert wait_for(healthy, timeout=60), "the server did not start"
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=15)
        logs += [out, err]


def link_of(root: Path, url: str, *args: str) -> str:
    made = campaign(root, "signoff", "request", "verhaal", "--for", "verteller", *args, CAMPAIGN_PUBLIC_URL=url)
    assert made.returncode == 0, made.stderr
    found = made.stdout.strip().splitlines()[-1]
    assert found.startswith(url + "/signoff/")
    return found


def text_of(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.ID, element_id)
    return str(found[0].text) if found else ""


def test_the_storyteller_approves_in_the_browser_and_the_story_goes_out_at_its_time(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    root = tmp_path / "campaign"
    write_story(root, at(soon(30)))
    logs: list[str] = []
    worker = daemon(root)
    try:
        with serving(root, logs) as url:
            link = link_of(root, url)
            browser.get(link)
            assert STORY in browser.find_element(By.CSS_SELECTOR, "ol.cards").text
            assert "verteller" in browser.find_element(By.TAG_NAME, "main").text
            assert browser.find_elements(By.CSS_SELECTOR, "a[href^='/']") == []  # no way into the dashboard
            click_and_wait(browser, "approve")
            assert text_of(browser, "done") != ""
            assert wait_for(lambda: set(states(root).values()) == {"published"}, timeout=90)
            # A one-word edit after it went out is no concern of the page; before it, it is: see the next test.
            answer = requests.get(link, timeout=10)
            assert answer.headers["Referrer-Policy"] == "no-referrer"
            assert "Content-Security-Policy" in answer.headers
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
        logs += [out, err]
    assert {item["post"] for item in outbox(root)} == {"verhaal"}
    token = link.rsplit("/", 1)[-1]
    assert any("approved verhaal" in line for line in logs)  # the server's log was read: it has the approval
    assert not any(token in line for line in logs)


def test_an_edit_after_approval_shows_on_the_page_and_a_dead_link_changes_nothing(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    root = tmp_path / "campaign"
    when = at(soon(3600))
    write_story(root, when)
    logs: list[str] = []
    with serving(root, logs) as url:
        link = link_of(root, url)
        old = link_of(root, url, "--expires", "1m")
        browser.get(link)
        click_and_wait(browser, "approve")
        write_story(root, when, STORY.replace("moeder", "vader"))
        run = campaign(root, "run", "--once")
        assert set(states(root).values()) == {"pending"}, run.stdout  # not due yet: nothing held, nothing sent
        status = campaign(root, "signoff", "status")
        assert "changed since verteller approved it" in status.stdout
        book = ledger(root)
        try:
            assert any(a.kind == "signoff" and "verteller" in a.message for a in book.alerts.latest())
        finally:
            book.close()

        def shows_the_change() -> bool:
            browser.get(link)
            return (
                "vader" in browser.find_element(By.CSS_SELECTOR, "ol.cards").text and text_of(browser, "standing") != ""
            )

        assert wait_for(shows_the_change, timeout=40, every=2)  # the dashboard looks at the files every 10 s
        changed = text_of(browser, "standing")
        assert browser.find_element(By.CSS_SELECTOR, "#changes del").text == "moeder"  # the one word, shown
        assert browser.find_element(By.CSS_SELECTOR, "#changes ins").text == "vader"
        # The team sees it on the dashboard's Now page, waiting, with why.
        log_in(browser, Dashboard(root, url, soon(0)), "anna")
        browser.get(url + "/")
        shown = text_of(browser, "signoff")  # in the campaign's language (Dutch), the time in its zone
        assert "veranderd sinds verteller op" in shown and "changed since" not in shown
        # A revoked link: one plain page, and a POST through it changes nothing.
        assert campaign(root, "signoff", "revoke", "verhaal").returncode == 0
        before = len(ledger(root).signoffs.decisions_of("verhaal"))
        for dead in (link, old, url + "/signoff/" + "x" * 43):
            page = requests.get(dead, timeout=10)
            assert page.status_code == 404 and "<form" not in page.text and "<a " not in page.text
            assert requests.post(dead, data={"decision": "approve"}, timeout=10).status_code in (400, 404)
        assert len(ledger(root).signoffs.decisions_of("verhaal")) == before
    assert changed != ""
    token = link.rsplit("/", 1)[-1]
    assert not any(token in line for line in logs)
