"""Benchmark of the web dashboard (`campaign serve`) as a real process. It prints figures, never asserts.

    python bench/web.py [--posts 10000] [--requests 200] [--pauses 20] [--keep]

The ledger holds bench/synthetic.py's campaign (10,000 posts × 4 channels = 40,000 deliveries,
SQLite, synced by `campaign run --once`). A logged-in client (requests, keep-alive) then asks, one
request at a time:

  /health      the floor: the framework and server alone, no ledger query of note (the baseline)
  /now.json    what every open page polls once a second
  /            the Now page (overview: pauses, counts, next, needs a person, out today, actions)
  /calendar    one month of the calendar with each card's ledger state (plans from the cache)

and prints median and p99 wall time per request (on 127.0.0.1 that is the server's time plus a
loopback round trip), each also as a multiple of /health's median. Then, `--pauses` times, a pause
POST (the button's form) and the time until this process's own Ledger sees the pause, as a
daemon's pause check does (`ledger.operators.pauses()`): POST round trip, and POST start → seen.

Where Chromium and chromium-driver are installed (Selenium), `--clicks` times also in a real browser:
a click on the confirmation button → the bench's Ledger sees the pause; and a resume made elsewhere
(this process's Ledger, as the CLI does) → the open page no longer says paused (the page polls every
second, so that one is up to a second plus a redraw; the DOM is read through WebDriver every 20 ms).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` lives in the repo

from bench.synthetic import generate
from scheduler.publish.ledger import Ledger

PASSWORD = "a long enough benchmark password"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _campaign(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "scheduler", *args], env=env, input=stdin, text=True, check=True, capture_output=True
    )


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if not found:
        raise SystemExit("no CSRF token on the page")
    return found.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pauses", type=int, default=20)
    parser.add_argument("--clicks", type=int, default=10, help="pauses clicked in Chromium (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    root = generate(folder / "campaign", args.posts)
    db = f"sqlite:///{folder / 'ledger.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_") and k != "DATABASE_URL"}
    env.update(
        CAMPAIGN_ROOT=str(root),
        DATABASE_URL=db,
        CAMPAIGN_USERS_FILE=str(folder / "users"),
        CAMPAIGN_SESSION_SECRET="b" * 48,
        CAMPAIGN_LOG_LEVEL="WARNING",
    )
    started = time.perf_counter()
    _campaign(env, "run", "--once")
    ledger = Ledger(db)
    rows = sum(ledger.views.state_counts().values())
    print(f"ledger: {rows:,} deliveries ({args.posts:,} posts) synced in {time.perf_counter() - started:.1f} s")
    _campaign(env, "users", "add", "bench", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        client = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get(url + "/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        login = {"username": "bench", "password": PASSWORD, "csrf_token": _token(client.get(url + "/login").text)}
        if client.post(url + "/login", data=login).status_code != 200:
            raise SystemExit("could not log in")

        medians: dict[str, float] = {}
        print(f"\n{'path':<11} {'median':>9} {'p99':>9} {'× /health':>10}  ({args.requests} requests each)")
        for path in ("/health", "/now.json", "/", "/calendar"):
            client.get(url + path)  # warm: the plan cache, the templates
            times = []
            for _ in range(args.requests):
                begin = time.perf_counter()
                response = client.get(url + path)
                times.append(time.perf_counter() - begin)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: status {response.status_code}")
            medians[path] = statistics.median(times)
            ratio = medians[path] / medians["/health"]
            print(f"{path:<11} {medians[path] * 1000:>7.1f}ms {_percentile(times, 0.99) * 1000:>7.1f}ms {ratio:>9.1f}x")

        token = _token(client.get(url + "/").text)
        round_trips, seen = [], []
        for _ in range(args.pauses):
            begin = time.perf_counter()
            client.post(url + "/pause", data={"reason": "bench", "channel": "", "csrf_token": token})
            round_trips.append(time.perf_counter() - begin)
            while not ledger.operators.pauses():
                time.sleep(0.001)
            seen.append(time.perf_counter() - begin)
            client.post(url + "/resume", data={"channel": "*", "csrf_token": token})
        print(
            f"\npause POST round trip: median {statistics.median(round_trips) * 1000:.1f} ms, "
            f"p99 {_percentile(round_trips, 0.99) * 1000:.1f} ms; "
            f"POST start → a daemon's check sees it: median {statistics.median(seen) * 1000:.1f} ms, "
            f"max {max(seen) * 1000:.1f} ms ({args.pauses} pauses)"
        )
        print("a running daemon looks every 5 s at most (scheduler.publish.daemon.POLL) and at every claim")
        if args.clicks:
            _clicks(url, ledger, args.clicks, folder)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        ledger.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def _clicks(url: str, ledger: Ledger, clicks: int, folder: Path) -> None:
    """Pause by clicking in Chromium; resume elsewhere and wait for the open page to show it."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        print("\n(no chromium + chromedriver: the click figures are left out)")
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from scheduler.publish.ledger import Actor

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={folder / 'profile'}",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.get(url + "/login")
        driver.find_element(By.NAME, "username").send_keys("bench")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
        seen, shown = [], []
        for _ in range(clicks):
            driver.get(url + "/")
            driver.find_element(By.ID, "pause-button").click()
            driver.find_element(By.NAME, "reason").send_keys("bench")
            begin = time.perf_counter()
            driver.find_element(By.ID, "confirm-pause").click()
            while not ledger.operators.pauses():
                time.sleep(0.001)
            seen.append(time.perf_counter() - begin)
            while "pause-button" in driver.page_source:  # the answer's page (paused) has loaded
                time.sleep(0.02)
            begin = time.perf_counter()
            ledger.operators.resume(None, ledger.clock(), Actor("bench", "elsewhere"))
            while "paused" in str(driver.execute_script("return document.querySelector('section.status').className")):
                time.sleep(0.02)
            shown.append(time.perf_counter() - begin)
        print(
            f"\nChromium, click on 'pause' → a daemon's check sees it: median {statistics.median(seen) * 1000:.0f} ms, "
            f"max {max(seen) * 1000:.0f} ms; a resume elsewhere → the open page shows it: median "
            f"{statistics.median(shown) * 1000:.0f} ms, max {max(shown) * 1000:.0f} ms ({clicks} each)"
        )
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
