"""The dashboard's door as the real `campaign serve` process keeps it: whom it believes about the client
(forwarded headers, only from a trusted proxy), how it slows guessing down (counted in the ledger, shared
by every `serve`), that a logout ends the session for every copy of its cookie, and how it refuses a bad
`next` and a port that is taken. Requests are sent from 127.0.0.1 with X-Forwarded-* set, as a proxy on
this host sends them.
"""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import requests

from tests.integration.daemon_helpers import CHANNELS, PASSWORDS, add_users, campaign, env_for, soon, wait_for, write

pytestmark = pytest.mark.slow

WRONG = "dit is niet het wachtwoord"
HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "dashboard.example.org"}


@dataclass
class Site:
    root: Path
    env: dict[str, str]
    db: str | None = None


@dataclass
class Served:
    url: str
    log: Path  # what the process wrote to stderr


@dataclass
class Client:
    """One browser: its own cookie (kept by hand: a Secure cookie must still be sent to http://127.0.0.1,
    where the test stands in for the proxy), and the headers its proxy adds."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    cookie: str | None = None

    def _send(self, method: str, path: str, data: dict[str, str] | None = None) -> requests.Response:
        headers = dict(self.headers)
        if self.cookie:
            headers["Cookie"] = f"campaign_session={self.cookie}"
        response = requests.request(
            method, self.url + path, data=data, headers=headers, allow_redirects=False, timeout=60
        )
        given = response.headers.get("Set-Cookie")
        if given:
            morsel = SimpleCookie(given).get("campaign_session")
            if morsel is not None:
                self.cookie = morsel.value or None
        return response

    def get(self, path: str) -> requests.Response:
        return self._send("GET", path)

    def post(self, path: str, data: dict[str, str]) -> requests.Response:
        return self._send("POST", path, data)

    def token(self, path: str = "/login") -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def log_in(self, name: str, password: str | None = None, next_: str | None = None) -> requests.Response:
        data = {"username": name, "password": password or PASSWORDS[name], "csrf_token": self.token()}
        if next_ is not None:
            data["next"] = next_
        return self.post("/login", data)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_site(tmp_path: Path, db: str | None = None) -> Site:
    root = tmp_path / "campaign"
    write(root, {"week/01-aftrap": (soon(3600), "De week tegen kindermishandeling begint. #wtk")}, channels=CHANNELS)
    env = env_for(root, db, CAMPAIGN_SESSION_SECRET="d" * 48, CAMPAIGN_USERS_FILE=str(tmp_path / "users"))
    add_users(env)
    if db is not None:  # the Procfile's release step
        assert campaign(root, "db", "upgrade", db=db).returncode == 0
    return Site(root, env, db)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


@contextmanager
def serving(site: Site, *args: str, name: str = "serve", **extra: str) -> Iterator[Served]:
    """`campaign serve` on a free port (with `args`, and `extra` in its environment) until the block ends."""
    port = _free_port()
    log = site.root.parent / f"{name}-{port}.log"
    with log.open("w", encoding="utf-8") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "serve", "--port", str(port), *args],
            env={**site.env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(url + "/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        assert wait_for(healthy, timeout=60), log.read_text(encoding="utf-8")
        yield Served(url, log)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0, log.read_text(encoding="utf-8")
    assert not any(password in log.read_text(encoding="utf-8") for password in PASSWORDS.values())


@pytest.mark.parametrize(
    ("args", "extra"),
    [((), {}), (("--trust-proxy", "192.0.2.0/24"), {}), ((), {"CAMPAIGN_TRUST_PROXY": "192.0.2.1"})],
    ids=["no-setting", "another-network", "another-address-by-environment"],
)
def test_without_trust_forwarded_headers_have_no_effect(
    site: Site, args: tuple[str, ...], extra: dict[str, str]
) -> None:
    with serving(site, *args, **extra) as served:
        vera = Client(served.url, {**HTTPS, "X-Forwarded-For": "203.0.113.9"})
        login = vera.get("/login")
        assert "Secure" not in login.headers["Set-Cookie"]
        assert "Strict-Transport-Security" not in login.headers
        assert vera.log_in("vera").status_code == 302
        page = vera.get("/calendar").text
        assert f'value="{served.url}/feed/vera/' in page  # the address it was reached at, not the header's
        assert "dashboard.example.org" not in page
        # Each client is who it says only through a trusted proxy: here all are 127.0.0.1, one address.
        for _ in range(5):
            assert Client(served.url, {"X-Forwarded-For": "203.0.113.66"}).log_in("anna", WRONG).status_code == 401
        elsewhere = Client(served.url, {"X-Forwarded-For": "198.51.100.20"}).log_in("anna")
        assert elsewhere.status_code == 429
        # The log says so once, for whoever wonders why the setting seems to do nothing.
        assert wait_for(lambda: "forwarded headers from 127.0.0.1 ignored" in served.log.read_text(encoding="utf-8"))
        assert served.log.read_text(encoding="utf-8").count("forwarded headers from") == 1


@pytest.mark.parametrize(
    ("args", "extra"),
    [(("--trust-proxy",), {}), ((), {"CAMPAIGN_TRUST_PROXY": "1"}), (("--trust-proxy", "127.0.0.0/8"), {})],
    ids=["flag", "environment", "named-network"],
)
def test_behind_a_trusted_proxy_the_cookie_is_secure_the_feed_link_https_and_hsts_sent(
    site: Site, args: tuple[str, ...], extra: dict[str, str]
) -> None:
    with serving(site, *args, **extra) as served:
        vera = Client(served.url, {**HTTPS, "X-Forwarded-For": "203.0.113.9"})
        login = vera.get("/login")
        assert "Secure" in login.headers["Set-Cookie"]
        assert "max-age=" in login.headers["Strict-Transport-Security"]
        assert vera.log_in("vera").status_code == 302
        page = vera.get("/calendar").text
        assert 'value="https://dashboard.example.org/feed/vera/' in page
        plain = Client(served.url).get("/login")  # straight to it, not through the proxy: plain HTTP
        assert "Secure" not in plain.headers["Set-Cookie"] and "Strict-Transport-Security" not in plain.headers
        # The client's own address counts: failures from one do not slow another down.
        for _ in range(5):
            assert Client(served.url, {"X-Forwarded-For": "203.0.113.66"}).log_in("anna", WRONG).status_code == 401
        assert Client(served.url, {"X-Forwarded-For": "203.0.113.66"}).log_in("anna").status_code == 429
        assert Client(served.url, {"X-Forwarded-For": "198.51.100.20"}).log_in("anna").status_code == 302


def test_failed_logins_count_across_two_serve_processes_on_one_ledger(site: Site) -> None:
    with serving(site, "--trust-proxy", name="a") as first, serving(site, "--trust-proxy", name="b") as second:
        attacker = {"X-Forwarded-For": "203.0.113.66"}
        for served in (first, second, first, second, first):
            assert Client(served.url, attacker).log_in("anna", WRONG).status_code == 401
        # Five failures in all, three on one process and two on the other: the sixth try waits on either.
        for served in (first, second):
            refused = Client(served.url, attacker).log_in("anna")
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert Client(second.url, {"X-Forwarded-For": "198.51.100.20"}).log_in("anna").status_code == 302


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_forty_guesses_at_once_count_as_forty_and_the_operator_still_gets_in(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    db = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    site = make_site(tmp_path, db)
    with serving(site, "--trust-proxy") as served:
        attacker = {"X-Forwarded-For": "203.0.113.66"}
        guessers = [Client(served.url, attacker) for _ in range(40)]
        tokens = [guesser.token() for guesser in guessers]
        start = threading.Barrier(41)

        def guess(number: int) -> int:
            start.wait(timeout=60)
            data = {"username": "anna", "password": WRONG, "csrf_token": tokens[number]}
            return guessers[number].post("/login", data).status_code

        operator = Client(served.url, {"X-Forwarded-For": "198.51.100.20"})
        operator_token = operator.token()
        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = [pool.submit(guess, number) for number in range(40)]
            start.wait(timeout=60)
            data = {"username": "anna", "password": PASSWORDS["anna"], "csrf_token": operator_token}
            operator_answer = operator.post("/login", data)  # while the guesses are being answered
            statuses = sorted(answer.result() for answer in answers)
        assert statuses == [401] * 5 + [429] * 35  # five passwords checked, every guess counted
        assert operator_answer.status_code == 302 and operator.get("/").status_code == 200
        assert Client(served.url, attacker).log_in("anna").status_code == 429
    if db is None:
        with sqlite3.connect(site.root / "campaign.db") as conn:
            counted = conn.execute("SELECT count FROM login_attempts WHERE key = 'pair:anna|203.0.113.66'").fetchone()
        assert counted == (41,)  # the forty guesses, and the right password from that address after them


def test_a_copied_cookie_is_worth_nothing_after_logout(site: Site) -> None:
    with serving(site) as served:
        anna = Client(served.url)
        assert anna.log_in("anna").status_code == 302
        token = anna.token("/")
        copied = anna.cookie  # as it is now, CSRF token and all
        assert Client(served.url, cookie=copied).get("/").status_code == 200  # a copy works while the login lasts
        assert anna.post("/logout", {"csrf_token": token}).status_code == 302
        page = Client(served.url, cookie=copied).get("/")
        assert page.status_code == 302 and page.headers["Location"].startswith("/login")
        assert Client(served.url, cookie=copied).get("/now.json").status_code == 401
        tried = Client(served.url, cookie=copied).post(
            "/pause", {"reason": "met een gekopieerd koekje", "csrf_token": token}
        )
        assert tried.status_code in (302, 400, 403)
        assert tried.status_code != 302 or tried.headers["Location"].startswith("/login")
        assert anna.log_in("anna").status_code == 302  # the account itself is not locked out
        assert anna.get("/").status_code == 200
    assert "paused: no" in campaign(site.root, "status").stdout


def test_a_next_with_a_line_break_is_refused_like_any_other_bad_next(site: Site) -> None:
    with serving(site) as served:
        anna = Client(served.url)
        asked = anna.get("/login?next=/calendar%0d%0aSet-Cookie:%20evil=1")
        assert asked.status_code == 200
        answer = anna.log_in("anna", next_="/calendar\r\nSet-Cookie: evil=1")
        assert answer.status_code == 302 and answer.headers["Location"] in ("/", served.url + "/")
        assert "evil" not in answer.headers.get("Set-Cookie", "")
        # A page asked for before logging in comes back through next= too.
        vera = Client(served.url)
        sent_away = vera.get("/posts/x%0d%0aSet-Cookie:%20evil=1")
        assert sent_away.status_code == 302 and sent_away.headers["Location"].startswith("/login")
        target = re.search(r'name="next" value="([^"]*)"', vera.get(sent_away.headers["Location"]).text)
        landed = vera.log_in("vera", next_=target.group(1) if target else None)
        assert landed.status_code == 302 and "evil" not in landed.headers.get("Set-Cookie", "")
    assert "Traceback" not in served.log.read_text(encoding="utf-8")


def test_now_json_shows_a_viewer_only_what_the_now_page_shows(site: Site) -> None:
    with serving(site) as served:
        vera = Client(served.url)
        assert vera.log_in("vera").status_code == 302
        before = vera.get("/now.json").json()
        assert campaign(site.root, "pause", "--reason", "crisisoverleg", CAMPAIGN_USER="kees").returncode == 0
        after = vera.get("/now.json").json()
        assert set(after) == {"mark", "paused", "cannot_be_planned"}  # each of which the Now page shows
        assert after["cannot_be_planned"] == []  # none in this campaign
        assert after["mark"] != before["mark"]  # it still tells the page to redraw
        assert after["mark"].isalnum()  # and nothing else: no counts, row ids or times of the ledger
        page = vera.get("/").text
        assert after["paused"] and all(line in page for line in after["paused"])
        assert after["mark"] in page


def test_a_taken_port_is_one_line_and_no_address(site: Site) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "scheduler", "serve", "--port", str(port)],
            env=site.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and str(port) in lines[0] and "--port" in lines[0], lines
    assert "http://" not in lines[0]


def test_a_trusted_proxy_that_is_not_an_address_is_named(site: Site) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "serve", "--trust-proxy", "the-proxy"],
        env=site.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "'the-proxy'" in result.stderr and "http://" not in result.stderr
