"""Links that work: the checker, `campaign validate --check-links` and the daemon's check before a
send, against a local website (tests/fakes/links_server.py) that answers 200, 404, 405 to HEAD,
redirects to another host, 503, and slowly."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from scheduler.content import plan as plan_file
from scheduler.content.campaign import load
from scheduler.errors import LedgerUnavailable
from scheduler.links.checker import USER_AGENT, Checker, Kind
from scheduler.links.gate import Gate
from scheduler.publish.alerts import Alerter
from scheduler.publish.clock import SimulatedClock
from scheduler.publish.ledger import Actor, Ledger
from scheduler.publish.publisher import Channels, Policy, Publisher
from scheduler.publish.states import Attempted, State
from tests.builders import run_campaign, write_campaign
from tests.fakes.links_server import LinkSite
from tests.integration.daemon_helpers import at, campaign, daemon, outbox, soon, states, wait_for

POLICY = Policy(
    max_late=timedelta(hours=1), max_attempts=8, retry_base=timedelta(seconds=30), stale_after=timedelta(seconds=60)
)
DUE = datetime(2027, 11, 15, 8, 0, tzinfo=UTC)
ANNA = Actor("anna", "laptop")


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LinkSite]:
    """The site, reached through itself as the proxy (also by `campaign` processes started here). Its
    names stand for public sites: the checker is told so (it fetches no inside address otherwise)."""
    with LinkSite() as running:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, running.address)
        monkeypatch.setenv("CAMPAIGN_LINKS_ALLOW_HOSTS", running.hosts)
        yield running


# ---------------------------------------------------------------------------------- the checker


def test_the_checker_tells_working_dead_failing_and_elsewhere_links_apart(site: LinkSite) -> None:
    checker = Checker(timeout=0.5)
    urls = [f"{site.url}{path}" for path in ("/ok", "/gone", "/removed", "/no-head", "/moved", "/away", "/busy")]
    try:
        results = checker.check(urls)
    finally:
        checker.close()
    kinds = {url.removeprefix(site.url): r.kind for url, r in results.items()}
    assert kinds == {
        "/ok": Kind.OK,
        "/gone": Kind.DEAD,
        "/removed": Kind.DEAD,
        "/no-head": Kind.OK,  # HEAD refused with 405, GET answered
        "/moved": Kind.OK,  # a redirect on the same site
        "/away": Kind.REDIRECTED,
        "/busy": Kind.FAILING,  # a 503 says nothing about the page
    }
    assert results[f"{site.url}/gone"].describe() == f"link {site.url}/gone is dead (404 Not Found)"
    assert results[f"{site.url}/away"].final == f"{site.other_url}/ok"
    assert ("HEAD", "/no-head") in site.requests and ("GET", "/no-head") in site.requests
    assert ("GET", "/ok") not in site.requests  # HEAD was enough
    assert site.user_agents == {USER_AGENT} and "campaign-scheduler" in USER_AGENT


def test_a_name_that_does_not_resolve_is_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    checker = Checker(timeout=2)
    url = "http://name-that-does-not-resolve.invalid/x"
    try:
        result = checker.check([url])[url]
    finally:
        checker.close()
    assert result.kind is Kind.FAILING
    assert (
        result.describe()
        == f"link {url} could not be checked: its host name name-that-does-not-resolve.invalid does not resolve"
    )


def test_a_slow_answer_is_failing_after_the_time_limit_not_waited_for(site: LinkSite) -> None:
    checker = Checker(timeout=0.3)
    try:
        result = checker.check([f"{site.url}/slow"])[f"{site.url}/slow"]
        budgeted = checker.check([f"{site.url}/slow?again"], budget=0.2)[f"{site.url}/slow?again"]
    finally:
        checker.close()
    assert (result.kind, result.detail) == (Kind.FAILING, "no answer within 0.3 seconds")
    assert (budgeted.kind, budgeted.detail) == (Kind.FAILING, "no answer within 0.2 seconds")


def test_each_url_is_fetched_once_and_remembered_for_a_while(site: LinkSite) -> None:
    moment = [0.0]
    checker = Checker(timeout=1, remember=60, clock=lambda: moment[0])
    url = f"{site.url}/ok"
    try:
        assert checker.check([url, url, url])[url].kind is Kind.OK
        checker.check([url])
        assert site.count("/ok") == 1
        moment[0] = 61.0
        checker.check([url])
        assert site.count("/ok") == 2
    finally:
        checker.close()


# ------------------------------------------------------------------ what the checker will not fetch


def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_a_link_or_redirect_inside_this_network_is_never_requested(site: LinkSite) -> None:
    # The proxy stays set: were a request sent, the local site (the proxy) would record it, and
    # nothing leaves this machine.
    with LinkSite() as admin:
        port = urlsplit(admin.address).port
        inside = [
            f"http://localhost:{port}/internal-admin?action=delete",  # a name that resolves to loopback
            f"http://[::ffff:127.0.0.1]:{port}/internal-admin",  # IPv4 inside IPv6
            "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
            "http://10.0.0.1/",
        ]
        site.redirect("/naar-beheer", f"{admin.address}/internal-admin?action=delete")
        checker = Checker(timeout=2)
        try:
            results = checker.check([*inside, f"{site.url}/naar-beheer"])
        finally:
            checker.close()
    assert {url: r.kind for url, r in results.items()} == {url: Kind.REFUSED for url in results}
    assert results[inside[0]].describe() == (
        f"link {inside[0]} leads to localhost, an address inside this network: not checked and not followed"
    )
    assert results[f"{site.url}/naar-beheer"].describe() == (
        f"link {site.url}/naar-beheer redirects to {admin.address}/internal-admin?action=delete,"
        " an address inside this network: not followed"
    )
    assert admin.requests == []
    assert site.requests == [("HEAD", "/naar-beheer")]  # only the public page; nothing went through the proxy


def test_the_checker_connects_to_the_address_it_vetted_under_the_sites_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_proxy(monkeypatch)
    first = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)[0][4][0]
    if first != "127.0.0.1":
        pytest.skip(f"localhost resolves to {first} first here; the local site listens on 127.0.0.1")
    resolve = socket.getaddrinfo
    asked: list[str] = []

    def resolving(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(host))
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolving)  # the system's resolver, watched
    with LinkSite() as local:
        port = urlsplit(local.address).port
        url = f"http://localhost:{port}/ok"
        checker = Checker(timeout=5, allow=["localhost"])  # here localhost stands for a public site
        try:
            result = checker.check([url])[url]
        finally:
            checker.close()
    assert result.kind is Kind.OK
    assert asked == ["localhost", "127.0.0.1"]  # the name resolved once; the connection made to that address
    assert local.host_headers == [f"localhost:{port}"]  # under the site's name


def _certificates(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """(CA certificate, site certificate, site key) for `name`, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "site.key", "-out", "site.csr", "-subj", f"/CN={name}")
    (folder / "ext.cnf").write_text(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n", encoding="utf-8")
    openssl("x509", "-req", "-in", "site.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "site.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return folder / "ca.pem", folder / "site.pem", folder / "site.key"


def test_over_tls_the_checker_connects_to_the_vetted_address_under_the_sites_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy(monkeypatch)
    first = socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM)[0][4][0]
    if first != "127.0.0.1":
        pytest.skip(f"localhost resolves to {first} first here; the local site listens on 127.0.0.1")
    authority, certificate, key = _certificates(tmp_path, "localhost")  # for the name, not for 127.0.0.1
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    with LinkSite(tls=context) as local:
        url = f"https://localhost:{urlsplit(local.address).port}/ok"
        checker = Checker(timeout=10, allow=["localhost"])
        try:
            result = checker.check([url])[url]
        finally:
            checker.close()
    assert result.kind is Kind.OK  # SNI and the certificate's name were the site's: a check against 127.0.0.1 fails


def test_a_server_that_drips_its_answer_is_cut_off_at_the_time_limit(site: LinkSite) -> None:
    checker = Checker(timeout=2)  # longer than a line takes: no single read waits for its timeout
    try:
        result = checker.check([f"{site.url}/drip"], budget=2)[f"{site.url}/drip"]
        assert (result.kind, result.detail) == (Kind.FAILING, "no answer within 2 seconds")
        # Its worker hung up then: the server saw it (it would drip for 10 minutes otherwise).
        assert wait_for(lambda: site.cut() == 1, timeout=60)
    finally:
        checker.close()


def test_a_name_server_that_does_not_answer_holds_no_checker(site: LinkSite, monkeypatch: pytest.MonkeyPatch) -> None:
    resolve, answered = socket.getaddrinfo, threading.Event()

    def resolving(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "stil.example.nl":  # its name server does not answer (the system's resolver waits)
            answered.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "no answer")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolving)  # the system's resolver, one name made slow
    checker = Checker(timeout=5, workers=1)
    try:
        silent = checker.check(["http://stil.example.nl/x"], budget=1)["http://stil.example.nl/x"]
        after = checker.check([f"{site.url}/ok"], budget=30)[f"{site.url}/ok"]
    finally:
        answered.set()
        checker.close()
    assert (silent.kind, silent.detail) == (Kind.FAILING, "no answer within 1 second")
    assert after.kind is Kind.OK  # the one worker was free again


def test_the_checker_reads_no_body_however_long(site: LinkSite) -> None:
    checker = Checker(timeout=30)
    try:
        result = checker.check([f"{site.url}/endless"], budget=30)[f"{site.url}/endless"]
    finally:
        checker.close()
    assert result.kind is Kind.OK
    assert wait_for(lambda: site.cut() == 1, timeout=60)  # it hung up on the body at once


# ---------------------------------------------------------------------------------- validate


def test_validate_check_links_follows_no_redirect_inside_this_network(tmp_path: Path, site: LinkSite) -> None:
    with LinkSite() as admin:
        port = urlsplit(admin.address).port
        site.redirect("/naar-beheer", f"{admin.address}/internal-admin?action=delete")
        site.redirect("/naar-metadata", "http://169.254.169.254/latest/meta-data/")
        site.redirect("/naar-localhost", f"http://localhost:{port}/internal-admin?action=delete")
        root = write_campaign(
            tmp_path,
            {
                "a.md": f"""
                    ---
                    publish_at: 2027-11-15 09:00
                    ---
                    Een: {site.url}/naar-beheer
                    Twee: {site.url}/naar-metadata
                    Drie: {site.url}/naar-localhost
                    Goed: {site.url}/ok
                    """
            },
        )
        done = run_campaign(root, "validate", "--check-links")
    assert done.returncode == 1
    inside = "an address inside this network: not followed"
    assert done.stdout.splitlines() == [
        f"posts/a.md:4: error: link {site.url}/naar-beheer redirects to {admin.address}/internal-admin?action=delete,"
        f" {inside}",
        f"posts/a.md:5: error: link {site.url}/naar-metadata redirects to http://169.254.169.254/latest/meta-data/,"
        f" {inside}",
        f"posts/a.md:6: error: link {site.url}/naar-localhost redirects to"
        f" http://localhost:{port}/internal-admin?action=delete, {inside}",
    ]
    assert admin.requests == []  # the admin page was never asked, neither directly nor through the proxy
    assert sorted(path for _, path in site.requests) == ["/naar-beheer", "/naar-localhost", "/naar-metadata", "/ok"]


def test_validate_check_links_cuts_off_a_server_that_drips_its_answer(tmp_path: Path, site: LinkSite) -> None:
    root = write_campaign(
        tmp_path, {"a.md": f"---\npublish_at: 2027-11-15 09:00\n---\nTraag: {site.url}/drip\nGoed: {site.url}/ok\n"}
    )
    done = run_campaign(root, "validate", "--check-links")  # before: it waited for the drip's end (10 minutes)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"posts/a.md:4: error: link {site.url}/drip could not be checked: no answer within 10 seconds"
    ]
    assert wait_for(lambda: site.cut() == 1, timeout=60)


def test_validate_check_links_reports_each_link_on_its_line_once(tmp_path: Path, site: LinkSite) -> None:
    root = write_campaign(
        tmp_path,
        {
            "a.md": f"""
                ---
                publish_at: 2027-11-15 09:00
                channels: [mastodon, bluesky]
                ---
                Lees meer: {site.url}/ok
                Kapot: {site.url}/gone
                """,
            "b.md": f"""
                ---
                publish_at: 2027-11-16 09:00
                link_check: warn
                ---
                Ook kapot: {site.url}/gone en elders: {site.url}/away
                """,
            "c.md": f"""
                ---
                publish_at: 2027-11-17 09:00
                link_check: "off"
                ---
                Niet bekeken: {site.url}/removed
                """,
        },
    )
    offline = run_campaign(root, "validate")
    assert offline.returncode == 0 and site.requests == []  # without the flag, validate stays offline
    done = run_campaign(root, "validate", "--check-links")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"posts/a.md:6: error: link {site.url}/gone is dead (404 Not Found)",
        f"posts/b.md:5: warning: link {site.url}/away leads to another site: {site.other_url}/ok",
        f"posts/b.md:5: warning: link {site.url}/gone is dead (404 Not Found)",
    ]
    assert "checked 3 links" in done.stderr and "1 dead or failing" in done.stderr
    assert site.count("/gone") == 2 and site.count("/ok") == 2  # HEAD, then GET for the 404; /ok: itself, /away's end
    assert site.count("/removed") == 0


def test_validate_check_links_json_names_file_and_line(tmp_path: Path, site: LinkSite) -> None:
    root = write_campaign(tmp_path, {"a.md": f"---\npublish_at: 2027-11-15 09:00\n---\nDruk: {site.url}/busy\n"})
    done = run_campaign(root, "validate", "--check-links", "--format", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout) == [
        {
            "path": "posts/a.md",
            "line": 4,
            "severity": "error",
            "message": f"link {site.url}/busy could not be checked: the server answered 503 Service Unavailable",
        }
    ]


def test_an_unknown_link_check_value_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    root = write_campaign(
        tmp_path,
        {
            "a.md": "---\npublish_at: 2027-11-15 09:00\nlink_check: hodl\n---\nTekst.\n",
            "b.md": "---\npublish_at: 2027-11-16 09:00\n---\nTekst met de map-instelling.\n",
        },
        defaults="campaign: T\ntimezone: Europe/Amsterdam\nchannels: [mastodon]\nlink_check: warm\n",
    )
    done = run_campaign(root, "validate")
    assert done.returncode == 1
    assert "posts/a.md:3: error: unknown link_check 'hodl'; did you mean 'hold'? (hold, warn or off)" in done.stdout
    assert "posts/_defaults.yml:4: error: unknown link_check 'warm'; did you mean 'warn'? (hold, warn or off)" in (
        done.stdout
    )


# ---------------------------------------------------------------------------------- the publisher


def _campaign(root: Path, body: str, **front: str) -> Path:
    extra = "".join(f"{key}: {value}\n" for key, value in front.items())
    return write_campaign(root, {"a.md": f"---\npublish_at: {at(DUE)}\n{extra}---\n{body}\n"})


def _publisher(root: Path, clock: SimulatedClock, gate: Gate) -> tuple[Ledger, Publisher]:
    ledger = Ledger(f"sqlite:///{root / 'ledger.db'}")
    ledger.upgrade()
    campaign_, _ = load(root)
    return ledger, Publisher(ledger, Channels(campaign_), Alerter(ledger), POLICY, "here:0:a", clock=clock, links=gate)


def _sent(root: Path) -> list[str]:
    return [line["text"] for line in outbox(root)]


def test_a_dead_link_holds_the_send_alerts_once_and_an_edit_releases_it(tmp_path: Path, site: LinkSite) -> None:
    root = _campaign(tmp_path, f"Lees: {site.url}/gone")
    clock = SimulatedClock(DUE + timedelta(seconds=5))
    ledger, publisher = _publisher(root, clock, Gate(Checker(timeout=1)))
    publisher.sync(plan_file.build(root), clock.now())
    [outcome] = publisher.make_pass().sent
    assert outcome.state == State.HELD
    [row] = ledger.views.rows()
    reason = f"held by the link check: link {site.url}/gone is dead (404 Not Found)"
    assert row.state == State.HELD and row.reason is not None and row.reason.startswith(reason)
    assert [(a.kind, a.post) for a in ledger.alerts.latest()] == [("held", "a")]
    assert [a.outcome for a in ledger.views.history("a")] == [Attempted.HELD]
    publisher.synced.forget()  # a full sync of the unchanged files keeps it held
    publisher.sync(plan_file.build(root), clock.now())
    clock.advance(timedelta(minutes=1))
    assert publisher.make_pass().outcomes == []
    assert len(ledger.alerts.latest()) == 1 and _sent(root) == []
    (root / "posts" / "a.md").write_text(f"---\npublish_at: {at(DUE)}\n---\nLees: {site.url}/ok\n", encoding="utf-8")
    publisher.sync(plan_file.build(root), clock.now())
    assert [o.state for o in publisher.make_pass().sent] == [State.PUBLISHED]
    assert _sent(root) == [f"Lees: {site.url}/ok"]


def test_retry_sends_a_link_held_post_without_checking_again(tmp_path: Path, site: LinkSite) -> None:
    root = _campaign(tmp_path, f"Lees: {site.url}/gone")
    clock = SimulatedClock(DUE + timedelta(seconds=5))
    ledger, publisher = _publisher(root, clock, Gate(Checker(timeout=1)))
    publisher.sync(plan_file.build(root), clock.now())
    publisher.make_pass()
    fetched = len(site.requests)
    assert ledger.operators.retry_now("a", None, clock.now(), ANNA, "de site werkt voor mensen") == ["mastodon"]
    publisher.sync(plan_file.build(root), clock.now())  # the daemon's next sync leaves the retry alone
    assert [o.state for o in publisher.make_pass().sent] == [State.PUBLISHED]
    assert len(site.requests) == fetched and len(_sent(root)) == 1


def test_warn_sends_with_an_alert_and_a_failing_link_never_stops_a_send(tmp_path: Path, site: LinkSite) -> None:
    root = write_campaign(
        tmp_path,
        {
            "a.md": f"---\npublish_at: {at(DUE)}\nlink_check: warn\n---\nKapot: {site.url}/gone\n",
            "b.md": f"---\npublish_at: {at(DUE + timedelta(minutes=1))}\n---\nTraag: {site.url}/slow\n",
            "c.md": f"---\npublish_at: {at(DUE + timedelta(minutes=2))}\n---\nDruk: {site.url}/busy\n",
        },
    )
    clock = SimulatedClock(DUE + timedelta(minutes=3))
    ledger, publisher = _publisher(root, clock, Gate(Checker(timeout=0.3), budget=0.3))
    publisher.sync(plan_file.build(root), clock.now())
    assert [o.state for o in publisher.make_pass().sent] == [State.PUBLISHED] * 3
    [alert] = ledger.alerts.latest()
    assert alert.kind == "link" and alert.post == "a"
    assert alert.message == f"link {site.url}/gone is dead (404 Not Found); it goes out anyway (link_check: warn)"


def test_one_post_on_four_channels_fetches_its_link_once(tmp_path: Path, site: LinkSite) -> None:
    channels = "channels:\n" + "".join(f"  c{n}: {{type: dryrun, like: mastodon}}\n" for n in range(4))
    root = write_campaign(
        tmp_path,
        {"a.md": f"---\npublish_at: {at(DUE)}\nchannels: [c0, c1, c2, c3]\n---\nLees: {site.url}/ok\n"},
        channels=channels,
    )
    clock = SimulatedClock(DUE + timedelta(seconds=5))
    _, publisher = _publisher(root, clock, Gate())
    publisher.sync(plan_file.build(root), clock.now())
    assert [o.state for o in publisher.make_pass(workers=4).sent] == [State.PUBLISHED] * 4
    assert site.count("/ok") == 1


def test_a_rehearsal_fetches_no_link_and_says_so(tmp_path: Path, site: LinkSite) -> None:
    root = _campaign(tmp_path, f"Lees: {site.url}/gone")
    done = run_campaign(root, "rehearse", "--from", "2027-11-15")
    assert done.returncode == 0, done.stderr
    assert "links are not checked in a rehearsal" in done.stderr
    assert site.requests == []


# ---------------------------------------------------------------------------------- the daemon


def _state(root: Path, post: str) -> str | None:
    try:
        return states(root).get((post, "mastodon"))
    except LedgerUnavailable:  # the daemon has not made its ledger yet
        return None


def test_the_daemon_holds_a_send_whose_link_broke_after_validation(tmp_path: Path, site: LinkSite) -> None:
    root = tmp_path
    due = soon(6)
    write_campaign(
        root,
        {
            "broken.md": f"---\npublish_at: {at(due)}\n---\nLees meer: {site.url}/page\n",
            "fine.md": f"---\npublish_at: {at(due + timedelta(seconds=1))}\n---\nOok: {site.url}/ok\n",
        },
    )
    site.answer("/page", 200)
    checked = campaign(root, "validate", "--check-links", CAMPAIGN_LINKS_ALLOW_HOSTS=site.hosts)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    site.answer("/page", 404)  # the page is taken down after the pull request was merged
    running = daemon(root, CAMPAIGN_LINKS_ALLOW_HOSTS=site.hosts)
    try:
        assert wait_for(lambda: _state(root, "broken") == "held", timeout=60)
        assert wait_for(lambda: _state(root, "fine") == "published", timeout=30)
        shown = campaign(root, "status")
        assert f"held by the link check: link {site.url}/page is dead (404 Not Found)" in shown.stdout
        assert [line["text"] for line in outbox(root)] == [f"Ook: {site.url}/ok"]
        page = f"---\npublish_at: {at(due)}\n---\nLees meer: {site.url}/ok?nieuw\n"
        (root / "posts" / "broken.md").write_text(page, encoding="utf-8")
        assert wait_for(lambda: _state(root, "broken") == "published", timeout=60)
    finally:
        running.send_signal(signal.SIGTERM)
        _, err = running.communicate(timeout=30)
    assert f"ALERT held: broken on mastodon: held by the link check: link {site.url}/page is dead" in err
    assert err.count("ALERT held") == 1
    assert sorted(line["text"] for line in outbox(root)) == [f"Lees meer: {site.url}/ok?nieuw", f"Ook: {site.url}/ok"]


def test_switching_a_held_post_to_warn_releases_it_and_a_sent_one_stays_unchanged(
    tmp_path: Path, site: LinkSite
) -> None:
    root = write_campaign(
        tmp_path,
        {
            "a.md": f"---\npublish_at: {at(DUE)}\n---\nKapot: {site.url}/gone\n",
            "b.md": f"---\npublish_at: {at(DUE)}\n---\nGoed: {site.url}/ok\n",
        },
    )
    clock = SimulatedClock(DUE + timedelta(seconds=5))
    ledger, publisher = _publisher(root, clock, Gate(Checker(timeout=1)))
    publisher.sync(plan_file.build(root), clock.now())
    assert sorted((o.post, o.state) for o in publisher.make_pass().sent) == [("a", State.HELD), ("b", State.PUBLISHED)]
    defaults = root / "posts" / "_defaults.yml"
    defaults.write_text(defaults.read_text(encoding="utf-8") + "link_check: warn\n", encoding="utf-8")
    publisher.sync(plan_file.build(root), clock.now())
    assert [(o.post, o.state) for o in publisher.make_pass().sent] == [("a", State.PUBLISHED)]
    assert [a.kind for a in ledger.alerts.latest()] == ["link", "held"]  # newest first
    assert not any(r.changed_after_publishing for r in ledger.views.rows())


def test_eight_dripping_links_do_not_leave_a_later_send_unchecked(tmp_path: Path, site: LinkSite) -> None:
    # The daemon's checker has 8 workers. A server that sends a header line a second once held all
    # of them for as long as it dripped; the next send's dead link then went out unchecked.
    root = tmp_path
    due = soon(6)
    drips = " ".join(f"{site.url}/drip?{n}" for n in range(8))
    write_campaign(
        root,
        {
            "traag.md": f"---\npublish_at: {at(due)}\n---\nTraag: {drips}\n",
            "kapot.md": f"---\npublish_at: {at(due + timedelta(seconds=1))}\n---\nKapot: {site.other_url}/gone\n",
        },
    )
    running = daemon(root, CAMPAIGN_LINKS_ALLOW_HOSTS=site.hosts)
    try:
        assert wait_for(lambda: _state(root, "kapot") in ("held", "published"), timeout=90)
        assert _state(root, "kapot") == "held"  # its link was checked, so its dead link held it
        assert wait_for(lambda: _state(root, "traag") == "published", timeout=30)  # not checked: it went out
        assert wait_for(lambda: site.cut() == 8, timeout=60)
    finally:
        running.send_signal(signal.SIGTERM)
        _, err = running.communicate(timeout=30)
    assert f"link {site.url}/drip?0 could not be checked: no answer within 3 seconds; it goes out anyway" in err


def test_a_site_that_does_not_answer_makes_one_send_wait_not_each(site: LinkSite) -> None:
    moment = [0.0]
    checker = Checker(timeout=0.3, remember=60, clock=lambda: moment[0])
    try:
        first = checker.check([f"{site.url}/slow?1"], budget=0.3)
        later = checker.check([f"{site.url}/slow?2", f"{site.other_url}/ok"], budget=0.3)
    finally:
        checker.close()
    assert first[f"{site.url}/slow?1"].detail == "no answer within 0.3 seconds"
    assert later[f"{site.url}/slow?2"].describe() == (
        f"link {site.url}/slow?2 could not be checked: its site did not answer a moment ago"
    )
    assert later[f"{site.other_url}/ok"].kind is Kind.OK  # another site is asked as usual
    assert site.count("/slow") == 1
