"""The watch list, the ledger's results tables and the report's values, in-process on a temporary
SQLite ledger: matching as the care team means it, each alert once, purge, figures tied to their age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.channels.base import Counts, Reply
from scheduler.content import plan, watchlist
from scheduler.content.campaign import load
from scheduler.content.watchlist import WatchList
from scheduler.publish.ledger import Actor, Ledger, NewReply, Published, Snapshot, deliveries
from scheduler.publish.states import State
from scheduler.results import formats
from scheduler.results.report import build
from tests.builders import write_campaign

NOW = datetime(2027, 11, 20, 12, 0, tzinfo=UTC)
AGES = (timedelta(hours=1), timedelta(days=1))


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("HELP me alsjeblieft", "help"),
        ("ik wórd thuis geslagen", "ik word*"),
        ("ik   word\nbang", "ik word*"),
        ("Ik durf het niet te zeggen aan iemand", "durf het niet te zeggen"),
        ("Dit helpt echt, bedankt!", None),  # whole words: 'helpt' is not 'help'
        ("Mooie campagne", None),
    ],
)
def test_the_watch_list_matches_whole_words_whatever_case_accents_or_spacing(text: str, found: str | None) -> None:
    watch = WatchList(("help", "ik word*", "durf het niet te zeggen"))
    assert watch.match(text) == found


def test_the_sample_watch_list_reads_and_names_the_helplines() -> None:
    sample, problems = watchlist.load(Path(__file__).resolve().parents[2])
    assert sample is not None and problems == []
    assert "thuis slaat" in sample.phrases and "durf het niet te zeggen" in sample.phrases
    assert "0800-2000" in sample.helplines and "0800-0432" in sample.helplines
    assert sample.match("Mijn vader slaat me als hij drinkt") is not None


def test_a_broken_watch_list_is_an_error_on_its_line_that_validate_and_preview_list(tmp_path: Path) -> None:
    def problems_of(text: str) -> list[tuple[str, int, str]]:
        (tmp_path / "watchlist.yml").write_text(text, encoding="utf-8")
        found, problems = watchlist.load(tmp_path)
        assert found is None
        return [(p.path, p.line, p.severity.value) for p in problems]

    assert problems_of("helplines: x\nphrases: help\n") == [("watchlist.yml", 2, "error")]
    assert problems_of("phrase: [help]\n") == [("watchlist.yml", 1, "error")]
    assert problems_of("phrases:\n\t- help\n") == [("watchlist.yml", 2, "error")]  # a tab
    nothing, none = watchlist.load(tmp_path / "nowhere")
    assert nothing is not None and nothing.phrases == () and none == []
    # The plan carries the problem, so `validate` and every preview list it (same counts).
    (tmp_path / "posts").mkdir()
    (tmp_path / "channels.yml").write_text("channels: {m: {type: dryrun}}\n", encoding="utf-8")
    (tmp_path / "watchlist.yml").write_text("phrases: [help\n", encoding="utf-8")
    assert [(p.path, p.is_error) for p in plan.build(tmp_path).problems] == [("watchlist.yml", True)]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    book = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    book.upgrade()
    return book


def published(ledger: Ledger, channel: str = "mastodon", post: str = "week/01", text: str = "Hallo #Week") -> Published:
    remote, url = f"id-{post}-{channel}", f"https://example.nl/{post}"
    values = {
        "post": post,
        "channel": channel,
        "path": f"posts/{post}.md",
        "due": NOW,
        "max_late_s": 3600,
        "version": "v",
        "key": f"{post}-{channel}",
        "text_hash": "h",
        "allow_repeat": False,
        "payload": f'{{"text": "{text}", "media": [], "language": "nl", "card": null, "title": null}}',
        "state": State.PUBLISHED.value,
        "attempts": 1,
        "receipt_url": url,
        "remote_id": remote,
        "published_at": NOW,
        "updated_at": NOW,
    }
    with ledger.engine.begin() as conn:
        new_id = conn.execute(deliveries.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
    return Published(new_id, post, channel, remote, url, NOW)


def test_snapshots_are_due_once_per_age_and_never_again_once_taken(ledger: Ledger) -> None:
    send = published(ledger)
    assert ledger.results.snapshots_due(NOW + timedelta(minutes=59), AGES, ["mastodon"]) == []
    [due] = ledger.results.snapshots_due(NOW + timedelta(hours=2), AGES, ["mastodon"])
    assert due.ages == (3600,)
    assert ledger.results.snapshots_due(NOW + timedelta(hours=2), AGES, ["bluesky"]) == []  # not a channel with counts
    snap = Snapshot(send.id, AGES[0], NOW + timedelta(hours=2), Counts(likes=4), None)
    assert ledger.results.record_snapshots([snap]) == 1
    assert ledger.results.record_snapshots([snap]) == 0  # another daemon took it meanwhile: kept as it was
    assert ledger.results.snapshots_due(NOW + timedelta(hours=3), AGES, ["mastodon"]) == []
    [later] = ledger.results.snapshots_due(NOW + timedelta(days=2), AGES, ["mastodon"])
    assert later.ages == (86400,)


def test_a_watched_reply_is_alerted_once_even_by_two_collectors(ledger: Ledger) -> None:
    send = published(ledger)
    reply = Reply("r1", "@kim@example.nl", NOW, "help", "https://example.nl/@kim/1")
    [kept] = ledger.replies.record_replies([(send, [NewReply(reply, "mastodon", "help")])], NOW)
    assert ledger.replies.record_replies([(send, [NewReply(reply, "mastodon", "help")])], NOW) == []  # kept once
    first = ledger.replies.alert_reply(kept, "a reply matches", NOW, unsent=True)
    second = ledger.replies.alert_reply(kept, "a reply matches", NOW, unsent=True)
    assert first is not None and second is None
    assert [a.kind for a in ledger.alerts.latest()] == ["reply"]
    assert ledger.replies.stored_replies(watched=True) == []


def test_handling_records_who_and_when_and_purge_deletes_only_what_is_older(ledger: Ledger) -> None:
    send = published(ledger)
    old = Reply("r-old", "@a", NOW - timedelta(days=91), "oud", None)
    recent = Reply("r-new", "@b", NOW - timedelta(days=89), "nieuw", None)
    kept = ledger.replies.record_replies(
        [(send, [NewReply(old, "mastodon", None), NewReply(recent, "mastodon", None)])], NOW
    )
    handled = ledger.replies.handle_reply(kept[0].id, Actor("anna", "laptop"), NOW, "beantwoord")
    assert handled is not None and (handled.handled_by, handled.handled_at, handled.note) == (
        "anna@laptop",
        NOW,
        "beantwoord",
    )
    assert ledger.replies.handle_reply(999, Actor("anna", "laptop"), NOW) is None
    purged = ledger.replies.purge_replies(NOW - timedelta(days=90))
    assert (purged.replies, purged.unhandled) == (1, 0)
    assert [r.remote_id for r in ledger.replies.stored_replies()] == ["r-new"]


def test_the_report_ties_every_figure_to_its_age_and_says_which_networks_have_no_counts(
    ledger: Ledger, tmp_path: Path
) -> None:
    root = write_campaign(
        tmp_path / "c",
        {},
        channels="channels:\n  mastodon: {type: mastodon, instance: 'https://m.example', token: x}\n"
        "  hook: {type: webhook, url: 'https://hook.example'}\n",
    )
    campaign, _ = load(root)
    counted = published(ledger, "mastodon", "tips/01", "Tip #TeamKim")
    late = published(ledger, "mastodon", "tips/02", "Tip #TeamKim")
    published(ledger, "hook", "tips/01", "Tip #TeamKim")
    ledger.results.record_snapshots(
        [
            Snapshot(counted.id, AGES[0], NOW, Counts(likes=2, reposts=1, replies=0), None),
            Snapshot(counted.id, AGES[1], NOW, Counts(likes=10, reposts=3, replies=2), None),
            Snapshot(late.id, AGES[0], NOW, None, "skipped: measured at 1 day"),
            Snapshot(late.id, AGES[1], NOW, Counts(likes=5, reposts=0, replies=0), None),
        ]
    )
    report = build(ledger, campaign, AGES, NOW)
    [tips] = report.series
    assert (tips.sends, tips.counted) == (3, 2)
    assert tips.figures[AGES[0]].measured == 1 and tips.figures[AGES[0]].engagement == 3
    assert tips.figures[AGES[1]].measured == 2 and tips.figures[AGES[1]].engagement == 20
    assert report.without_counts == ("hook",)
    assert [h.label for h in report.hashtags] == ["#TeamKim"]
    assert [(s.post, s.engagement) for s in report.top] == [("tips/01", 15), ("tips/02", 5)]
    markdown = formats.to_markdown(report)
    assert "| tips | 3 | 3 (1/2) | 20 (2/2) |" in markdown
    assert "Geen cijfers op deze kanalen (hun netwerk telt niets): hook" in markdown
    assert not report.made_up


def test_the_report_says_shares_on_facebook_counts_one_reply_as_one_and_names_posts_without_a_series(
    ledger: Ledger, tmp_path: Path
) -> None:
    root = write_campaign(
        tmp_path / "c", {}, channels="channels:\n  facebook: {type: dryrun, like: facebook}\n  sky: {type: dryrun}\n"
    )
    campaign, _ = load(root)
    page = published(ledger, "facebook", "aftrap", "Aftrap #Week")  # a post outside any folder: no series
    sky = published(ledger, "sky", "tips/01", "Tip #Week")
    ledger.results.record_snapshots(
        [
            Snapshot(page.id, AGES[0], NOW, Counts(likes=1, reposts=1, replies=1), None),
            Snapshot(sky.id, AGES[0], NOW, Counts(likes=2, reposts=2, replies=2), None),
        ]
    )
    html = formats.to_html(build(ledger, campaign, AGES, NOW))
    top = html.split('<ol class="top">', 1)[1].split("</ol>", 1)[0]
    assert "1 like, 1 keer gedeeld, 1 reactie" in top  # Facebook's own word, and Dutch singulars
    assert "2 likes, 2 reposts, 2 reacties" in top
    assert "1 reacties" not in html and "<td></td>" not in html.split("<h2>Per reeks</h2>", 1)[1].split("</table>")[0]
    assert "(geen reeks)" in html and "(geen reeks)" in formats.to_markdown(build(ledger, campaign, AGES, NOW))
