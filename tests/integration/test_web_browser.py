"""The web dashboard as a real process (`campaign serve`), driven by a real Chromium through Selenium and
Debian's chromium-driver, with a real daemon (`campaign run`) on the same SQLite ledger.

Skipped when Chromium or its driver is missing, unless CI is set (then they fail).
CAMPAIGN_UPDATE_SCREENSHOT=1 also copies the screenshots (1280 and 390 px wide) to docs/web-*.png.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from scheduler.publish.daemon import POLL
from tests.integration.daemon_helpers import (
    CHANNELS,
    PASSWORDS,
    add_users,
    at,
    campaign,
    daemon,
    env_for,
    now,
    outbox,
    soon,
    states,
    wait_for,
    write,
)

REPO = Path(__file__).resolve().parents[2]
SENTINEL = "sentinel-token-5150-never-on-a-page"
SECRET_CHANNEL = '  alerts-bot: {type: telegram, token: "${TELEGRAM_TOKEN}", chat_id: "-100123"}\n'

pytestmark = pytest.mark.slow


def _found(names: tuple[str, ...], variable: str) -> str | None:
    return os.environ.get(variable) or next(filter(None, map(shutil.which, names)), None)


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    chromium = _found(("chromium", "chromium-browser", "google-chrome"), "CHROMIUM")
    driver = _found(("chromedriver", "chromium-driver"), "CHROMEDRIVER")
    if chromium is None or driver is None:
        reason = "Chromium and its driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI is set, so this is an error")
        pytest.skip(reason)
    return chromium, driver


@pytest.fixture
def browser(browser_paths: tuple[str, str], tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Dashboard:
    root: Path
    url: str
    due: datetime  # of the one post


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    with serving(tmp_path) as running:
        yield running


@contextmanager
def serving(tmp_path: Path, db: str | None = None) -> Iterator[Dashboard]:
    """The campaign (a post due in a few seconds), two accounts, and `campaign serve` on a free port."""
    root, due = tmp_path / "campaign", soon(8)
    write(
        root,
        {"week/01-aftrap": (due, "De week tegen kindermishandeling begint. #wtk")},
        channels=CHANNELS + SECRET_CHANNEL,
    )
    extra = {
        "CAMPAIGN_SESSION_SECRET": "t" * 48,
        "CAMPAIGN_USERS_FILE": str(tmp_path / "users"),
        "TELEGRAM_TOKEN": SENTINEL,
    }
    env = env_for(root, db, **extra)
    add_users(env)
    assert PASSWORDS["anna"] not in (tmp_path / "users").read_text(encoding="utf-8")
    if db is not None:  # the Procfile's release step
        assert campaign(root, "db", "upgrade", db=db).returncode == 0
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(url + "/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        assert wait_for(healthy, timeout=30), "the server did not start"
        yield Dashboard(root, url, due)
    finally:
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=15)
        assert SENTINEL not in err and PASSWORDS["anna"] not in err
        assert server.returncode == 0, err  # SIGTERM stops it cleanly


def replaced(driver: Any, element: Any) -> None:
    """Wait until the page that answers a click has replaced the one `element` was on, and has loaded."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(_driver: Any) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:  # stale, or detached while the next page loads (Chromium says either)
            return True
        return False

    WebDriverWait(driver, 30).until(gone)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def log_in(driver: Any, dashboard: Dashboard, name: str, password: str | None = None) -> None:
    from selenium.webdriver.common.by import By

    driver.get(dashboard.url + "/login")
    driver.find_element(By.NAME, "username").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password or PASSWORDS[name])
    button = driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]")
    button.click()
    replaced(driver, button)


def click_and_wait(driver: Any, element_id: str) -> None:
    """Click a form's button, and wait for the page that answers the POST."""
    from selenium.webdriver.common.by import By

    button = driver.find_element(By.ID, element_id)
    button.click()
    replaced(driver, button)


def text_of(driver: Any, css: str) -> str:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return str(driver.find_element(By.CSS_SELECTOR, css).text)
    except (NoSuchElementException, StaleElementReferenceException):  # the live part was just swapped
        return ""


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def session_for(dashboard: Dashboard, name: str) -> tuple[requests.Session, str]:
    """A logged-in HTTP session (no browser) and a CSRF token of its Now page."""
    session = requests.Session()
    page = session.get(dashboard.url + "/login", timeout=10).text
    login_token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert login_token
    data = {"username": name, "password": PASSWORDS[name], "csrf_token": login_token.group(1)}
    assert session.post(dashboard.url + "/login", data=data, timeout=10).status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', session.get(dashboard.url + "/", timeout=10).text)
    assert found
    return session, found.group(1)


def test_pause_from_the_page_holds_the_daemon_and_resume_sends_the_post(browser: Any, dashboard: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, dashboard, "anna")
    assert "Alles gaat volgens plan." in text_of(browser, "#pause-state")
    browser.find_element(By.ID, "pause-button").click()  # the big button opens the confirmation
    browser.find_element(By.NAME, "reason").send_keys("Nieuws over een zaak: even stil")
    click_and_wait(browser, "confirm-pause")
    assert "Alles is gepauzeerd" in text_of(browser, "#pause-state")
    assert "door anna (dashboard)" in text_of(browser, "#pause-state")

    running = daemon(dashboard.root)
    try:
        # The daemon takes the post into the ledger; the page shows it next without a reload.
        assert wait_for(lambda: "week/01-aftrap" in text_of(browser, "#next"), timeout=30)
        # Past the post's time and more than one pause check (POLL) after it, nothing has gone out.
        checked = dashboard.due + POLL + timedelta(seconds=2)
        wait_for(lambda: bool(outbox(dashboard.root)) or now() > checked, timeout=60)
        assert outbox(dashboard.root) == [], "nothing goes out while paused"
        assert states(dashboard.root)[("week/01-aftrap", "mastodon")] == "pending"

        browser.find_element(By.ID, "resume-everything").click()  # like pause, resume asks first
        assert browser.find_element(By.ID, "confirm-resume-everything").is_displayed()
        assert "Alles is gepauzeerd" in text_of(browser, "#pause-state")
        assert "paused: everything" in campaign(dashboard.root, "status").stdout  # still, until confirmed
        click_and_wait(browser, "confirm-resume-everything")
        assert wait_for(lambda: len(outbox(dashboard.root)) == 1, timeout=30)
        assert wait_for(lambda: "week/01-aftrap" in text_of(browser, "#today"), timeout=15)  # live, no reload

        # A pause made elsewhere (the CLI) shows on the open page without a reload.
        assert campaign(dashboard.root, "pause", "--reason", "crisisoverleg", CAMPAIGN_USER="cli-kees").returncode == 0
        assert wait_for(lambda: "crisisoverleg" in text_of(browser, "#pause-state"), timeout=10)
        assert "door cli-kees op " in text_of(browser, "#pause-state")
    finally:
        running.send_signal(signal.SIGTERM)
        running.communicate(timeout=15)
    assert [r["post"] for r in outbox(dashboard.root)] == ["week/01-aftrap"]
    history = campaign(dashboard.root, "history").stdout
    assert "paused by anna@" in history and "resumed everything by anna@" in history
    assert console_errors(browser) == []


def test_a_viewer_sees_no_switch_and_its_post_is_refused(browser: Any, dashboard: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, dashboard, "vera")
    assert "vera · kijker" in browser.find_element(By.CSS_SELECTOR, "header.top").text
    assert browser.find_elements(By.ID, "pause-button") == []
    session, token = session_for(dashboard, "vera")
    refused = session.post(dashboard.url + "/pause", data={"reason": "ik probeer het", "csrf_token": token}, timeout=10)
    assert refused.status_code == 403
    assert "nothing" in campaign(dashboard.root, "resume").stdout  # nothing was paused


def test_a_post_without_a_csrf_token_is_refused(dashboard: Dashboard) -> None:
    session, _token = session_for(dashboard, "anna")
    for data in ({"reason": "geen token"}, {"reason": "vals token", "csrf_token": "forged"}):
        assert session.post(dashboard.url + "/pause", data=data, timeout=10).status_code == 400
    assert "paused: no" in campaign(dashboard.root, "status").stdout


def test_wrong_passwords_are_throttled(browser: Any, dashboard: Dashboard) -> None:
    for _ in range(5):
        log_in(browser, dashboard, "anna", "dit is niet het wachtwoord")
        assert "Naam of wachtwoord klopt niet." in text_of(browser, "p.error")
    log_in(browser, dashboard, "anna")  # the right password, too soon after
    assert "Te vaak mislukt" in text_of(browser, "p.error")
    assert requests.get(dashboard.url + "/now.json", timeout=10).status_code == 401


def test_no_page_or_answer_shows_a_channel_secret(browser: Any, dashboard: Dashboard) -> None:
    log_in(browser, dashboard, "anna")
    seen = []
    for path in ("/", "/calendar", "/posts/week/01-aftrap", "/now/live", "/now.json", "/health", "/nope"):
        browser.get(dashboard.url + path)
        seen.append(browser.page_source)
    session, _ = session_for(dashboard, "anna")
    seen += [session.get(dashboard.url + p, timeout=10).text for p in ("/", "/calendar", "/now.json")]
    assert all(SENTINEL not in page for page in seen)
    assert any("alerts-bot" in page for page in seen)  # the channel is on the page, its token is not


def _viewport(driver: Any, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


PHONE, DESKTOP = (390, 844, "-phone"), (1280, 900, "")


def no_sideways_scroll(driver: Any) -> bool:
    """The page fits the screen's width: nothing to scroll sideways (a wide table may scroll in its own box)."""
    return bool(driver.execute_script("return document.scrollingElement.scrollWidth <= window.innerWidth"))


def calendar_shows_titles(driver: Any) -> list[str]:
    """The month's posts as the calendar shows them: each chip's text, if it is shown whole (not a dot and
    '…': wide enough for words, and not cut off)."""
    return list(
        driver.execute_script(
            """return Array.from(document.querySelectorAll('table.grid a.chip:not(.more)'))
                .filter(c => c.getBoundingClientRect().width > 200 && c.scrollHeight <= c.clientHeight + 1)
                .map(c => c.innerText)"""
        )
    )


def save_screenshots(shots: dict[str, bytes], tmp_path: Path) -> None:
    for name, data in shots.items():
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        (tmp_path / name).write_bytes(data)
        if os.environ.get("CAMPAIGN_UPDATE_SCREENSHOT"):
            shutil.copyfile(tmp_path / name, REPO / "docs" / name)


def test_screenshots_of_now_and_calendar_at_desktop_and_phone_width(
    browser: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    # A day in the week: one post out, one missed while nothing ran, the next ones waiting.
    posts = {
        "week/00-vooraf": (soon(-600), "Vooraf", "Morgen begint de week tegen kindermishandeling."),
        "week/00-gemist": (soon(-3 * 3600), "Gemist", "Deze had drie uur geleden moeten gaan."),
        "week/02-tip": (soon(3600), "Tip 1 van Team Kim", "Luister zonder te oordelen. #wtk"),
        "week/03-tip": (soon(7200), "Tip 2 van Team Kim", "Vraag door, rustig. #wtk"),
    }
    for name, (when, title, text) in posts.items():
        path = dashboard.root / "posts" / f"{name}.md"
        path.write_text(f"---\ntitle: {title}\npublish_at: {at(when)}\n---\n{text}\n")
    assert campaign(dashboard.root, "run", "--once").returncode == 0
    log_in(browser, dashboard, "anna")
    shots = {}
    for width, height, suffix in (DESKTOP, PHONE):
        _viewport(browser, width, height)
        browser.get(dashboard.url + "/")
        button = browser.find_element(By.ID, "pause-button")
        bottom = button.rect["y"] + button.rect["height"]
        assert bottom <= browser.execute_script("return window.innerHeight"), "the pause button needs no scrolling"
        assert no_sideways_scroll(browser), f"Now scrolls sideways at {width} px"
        shots[f"web-now{suffix}.png"] = browser.get_screenshot_as_png()
        browser.get(dashboard.url + "/calendar")
        assert browser.find_elements(By.CSS_SELECTOR, "article.card")
        assert no_sideways_scroll(browser), f"the calendar scrolls sideways at {width} px"
        if suffix:  # on a phone the month is an agenda: each post's time and title in full, not dots and "…"
            shown = calendar_shows_titles(browser)
            assert any("Tip 1 van Team Kim" in chip for chip in shown), shown
            legend = browser.find_element(By.CSS_SELECTOR, ".legend").text
            assert "Stippen: het netwerk." in legend and "Mastodon" in legend
        shots[f"web-calendar{suffix}.png"] = browser.get_screenshot_as_png()
    assert console_errors(browser) == []  # no CSP violation: no inline script or style
    save_screenshots(shots, tmp_path)


@pytest.mark.postgres
def test_with_postgresql_a_pause_from_the_dashboard_is_the_ledgers(tmp_path: Path, postgres_url: str) -> None:
    with serving(tmp_path, postgres_url) as running:
        session, token = session_for(running, "anna")
        paused = session.post(
            running.url + "/pause", data={"reason": "via PostgreSQL", "csrf_token": token}, timeout=10
        )
        assert paused.status_code == 200 and "via PostgreSQL" in paused.text
        status = campaign(running.root, "status", db=postgres_url).stdout
        assert "paused: everything since" in status and "by anna@" in status and "via PostgreSQL" in status
