"""Campaign links carry UTM parameters where the team wants them (issue #18, item 8): `utm:` in
posts/_defaults.yml tags links to its domains per network, keeping what the writer wrote; the
preview shows the URL that goes out and counts it as the network does, Bluesky links the tagged
URL, and the report's CSV carries it."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from scheduler.content.text import graphemes
from tests.builders import DEFAULTS, post, run_campaign, write_campaign
from tests.fakes.bluesky_server import FakePDS
from tests.fakes.links_server import LinkSite
from tests.integration.daemon_helpers import campaign, now, write

UTM = "utm: {campaign: wtk2027, domains: [example.org]}\n"
CHANNELS = """\
channels:
  mastodon: {type: dryrun, like: mastodon}
  bluesky: {type: dryrun, like: bluesky}
  x: {type: dryrun, like: x}
"""
TEXT = (
    "Lees https://www.example.org/tips?lang=nl#kop en https://example.org/hulp?utm_source=flyer "
    "en https://ander.nl/x?a=1."
)


def tags(network: str, post_id: str, source: bool = True) -> str:
    given = f"utm_source={network}&" if source else ""
    return f"{given}utm_medium=social&utm_campaign=wtk2027&utm_content={post_id}"


def sends(root: Path) -> dict[str, dict[str, Any]]:
    shown = run_campaign(root, "preview", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return {send["channel"]: send for send in json.loads(shown.stdout)["sends"]}


def test_links_to_the_campaign_s_domains_are_tagged_per_network_in_the_preview(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"tips/a.md": post(TEXT, publish_at="2027-11-15 09:00", channels="[mastodon, bluesky, x]")},
        channels=CHANNELS,
        defaults=DEFAULTS + UTM,
    )
    found = sends(tmp_path)
    for network in ("mastodon", "bluesky", "x"):
        assert found[network]["text"] == (
            f"Lees https://www.example.org/tips?lang=nl&{tags(network, 'tips/a')}#kop "  # a subdomain, its query kept
            f"en https://example.org/hulp?utm_source=flyer&{tags(network, 'tips/a', source=False)} "  # not doubled
            "en https://ander.nl/x?a=1."  # another domain: as written
        )
    text = str(found["bluesky"]["text"])
    assert found["bluesky"]["length"] == graphemes(text)  # Bluesky counts the whole URL
    assert found["mastodon"]["length"] == found["x"]["length"] == len(text.split("https")[0]) + 3 * 23 + 4 + 4 + 1
    plain = tmp_path / "plain"
    write_campaign(
        plain,
        {"tips/a.md": post(TEXT, publish_at="2027-11-15 09:00", channels="[mastodon, bluesky, x]")},
        channels=CHANNELS,
    )
    untagged = sends(plain)
    assert untagged["x"]["length"] == found["x"]["length"]  # t.co: a link is 23 whatever its length
    assert untagged["bluesky"]["length"] < found["bluesky"]["length"]


def test_a_tagged_link_that_makes_the_text_too_long_is_an_error_on_its_line(tmp_path: Path) -> None:
    text = "x" * 220 + " https://example.org/a"  # 243 of 300 as written, over 300 once tagged
    write_campaign(
        tmp_path,
        {"a.md": post(text, publish_at="2027-11-15 09:00", channels="[bluesky]")},
        defaults=DEFAULTS + UTM,
    )
    checked = run_campaign(tmp_path, "validate")
    assert checked.returncode == 1
    assert checked.stdout.startswith("posts/a.md:5: error: bluesky: text is 314 graphemes")


def test_a_wrong_utm_setting_is_an_error_on_its_line(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post("Hallo https://example.org", publish_at="2027-11-15 09:00")},
        defaults=DEFAULTS + "utm: {campaign: wtk2027}\n",
    )
    checked = run_campaign(tmp_path, "validate")
    assert checked.returncode == 1
    assert checked.stdout.startswith("posts/_defaults.yml:5: error: utm: domains must be a list of domain names")


def test_bluesky_links_the_tagged_url_it_publishes(tmp_path: Path) -> None:
    with FakePDS(password="app-password-for-the-test") as pds:
        channels = (
            f"channels:\n  sky: {{type: bluesky, pds: '{pds.url}', handle: campagne.test, app_password: '${{SKY}}'}}\n"
        )
        write(
            tmp_path,
            {"p": (now() - timedelta(minutes=1), "Lees https://example.org/tips vandaag.")},
            channels=channels,
            default_channels="[sky]",
            extra_defaults=UTM + "link_check: off\n",
        )
        run = campaign(tmp_path, "run", "--once", env={"SKY": "app-password-for-the-test"})
        assert run.returncode == 0, run.stderr
        assert len(pds.posts) == 1, run.stdout + run.stderr
        (record,) = pds.posts
    tagged = f"https://example.org/tips?{tags('bluesky', 'p')}"
    assert record["text"] == f"Lees {tagged} vandaag."
    links = [f["features"][0] for f in record["facets"] if f["features"][0]["$type"].endswith("#link")]
    assert [link["uri"] for link in links] == [tagged]
    raw = record["text"].encode()
    (facet,) = [f for f in record["facets"] if f["features"][0]["$type"].endswith("#link")]
    assert raw[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode() == tagged


def test_the_report_csv_carries_each_send_s_tagged_url(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post("Lees https://example.org/tips.", publish_at="2027-11-15 09:00", channels="[mastodon, bluesky]")},
        defaults=DEFAULTS + UTM,
    )
    db = tmp_path / "week.db"
    kept = run_campaign(tmp_path, "rehearse", "--from", "2027-11-14", "--to", "2027-11-21", "--keep", str(db))
    assert kept.returncode == 0, kept.stderr
    report = run_campaign(tmp_path, "report", "--format", "csv", DATABASE_URL=f"sqlite:///{db}")
    assert report.returncode == 0, report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert rows and {(row["channel"], row["links"]) for row in rows} == {
        (network, f"https://example.org/tips?{tags(network, 'a')}") for network in ("mastodon", "bluesky")
    }


def test_a_dead_tagged_link_is_reported_on_the_line_where_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LinkSite() as site:  # reached through itself as the proxy, as in test_links.py
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, site.address)
        monkeypatch.setenv("CAMPAIGN_LINKS_ALLOW_HOSTS", site.hosts)
        domain = urlsplit(site.url).hostname
        write_campaign(
            tmp_path,
            {"a.md": f"---\npublish_at: 2027-11-15 09:00\n---\nEerst dit.\nKapot: {site.url}/gone\n"},
            defaults=DEFAULTS + f"utm: {{campaign: wtk2027, domains: [{domain}]}}\n",
        )
        done = run_campaign(tmp_path, "validate", "--check-links")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"posts/a.md:5: error: link {site.url}/gone?{tags('mastodon', 'a')} is dead (404 Not Found)"
    ]
