"""The HTML preview of the sample campaign as a person sees it, in headless Chromium.

Needs Chromium (Debian: `apt-get install chromium`); without it the tests are skipped, unless
the CI environment variable is set. CAMPAIGN_UPDATE_SCREENSHOT=1 also copies the screenshots to
docs/preview-screenshot.png (1280 px) and docs/preview-phone.png (390 px).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_web_browser import browser, browser_paths  # noqa: F401 - the fixtures

REPO = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if found is None:
        reason = "Chromium is not installed (apt-get install chromium, or set CHROMIUM to its path)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI is set, so this is an error")
        pytest.skip(reason)
    return found


def browse(chromium: str, page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess[str]:
    """Open `page` once; console messages go to stderr as `INFO:CONSOLE` lines."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2000",
        *action,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def console(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The sample campaign's HTML preview, and how many sends it has."""
    folder = tmp_path_factory.mktemp("preview")
    env = {k: v for k, v in os.environ.items() if k != "CAMPAIGN_ROOT"}
    page = folder / "preview.html"
    base = [sys.executable, "-m", "scheduler", "--root", str(REPO), "preview"]
    subprocess.run([*base, "--format", "html", "-o", str(page)], env=env, check=True, capture_output=True)
    shown = subprocess.run([*base, "--format", "json"], env=env, check=True, capture_output=True).stdout
    sends = json.loads(shown)["sends"]
    return page, len(sends)


def test_a_person_sees_every_card_with_dutch_days_and_no_console_errors(
    chromium: str, preview: tuple[Path, int], tmp_path: Path
) -> None:
    page, sends = preview
    result = browse(chromium, page, tmp_path / "profile", "--dump-dom")

    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert len(re.findall(r'<article class="card[ "]', dom)) == sends
    assert len(re.findall(r'<article [^>]*tabindex="0"', dom)) == sends
    for day in ("maandag 15 november", "dinsdag 16 november", "zondag 21 november"):
        assert f">{day}</time>" in dom
    assert '<abbr title="maandag">ma</abbr>' in dom
    assert re.search(r'<details open="">\s*<summary><h2 id="m-2027-11-h">november 2027</h2>', dom)
    assert console(result) == []


def test_the_console_check_does_see_errors(chromium: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><title>x</title><script>doesNotExist();</script>", encoding="utf-8")
    result = browse(chromium, broken, tmp_path / "profile", "--dump-dom")

    assert any("doesNotExist" in line for line in console(result))  # our name, not the engine's wording


def test_screenshot_of_the_campaign_week(chromium: str, preview: tuple[Path, int], tmp_path: Path) -> None:
    page, _ = preview
    shot = tmp_path / "preview.png"
    result = browse(chromium, page, tmp_path / "profile", f"--screenshot={shot}")

    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (1280, 2000)
    assert len(data) > 50_000, "a blank page compresses to a few kilobytes"
    if os.environ.get("CAMPAIGN_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, REPO / "docs" / "preview-screenshot.png")


def test_on_a_phone_the_preview_is_an_agenda_of_titles_with_a_legend(
    browser: Any,  # noqa: F811 - the fixture
    preview: tuple[Path, int],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    from tests.integration.test_web_browser import (
        DESKTOP,
        PHONE,
        _viewport,
        calendar_shows_titles,
        no_sideways_scroll,
        save_screenshots,
    )

    page, _ = preview
    shots = {}
    for width, height, suffix in (DESKTOP, PHONE):
        _viewport(browser, width, height)
        browser.get(page.as_uri())
        assert no_sideways_scroll(browser), f"the preview scrolls sideways at {width} px"
        legend = browser.find_element(By.CSS_SELECTOR, "#m-2027-11 .legend").text
        assert all(name in legend for name in ("Stippen: het netwerk.", "Bluesky", "Facebook", "Mastodon")), legend
        if suffix:
            shown = calendar_shows_titles(browser)
            assert any("Aftrap van de Week tegen Kindermishandeling" in chip for chip in shown), shown
            shots["preview-phone.png"] = browser.get_screenshot_as_png()
    save_screenshots(shots, tmp_path)
