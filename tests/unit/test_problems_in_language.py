"""Every problem `campaign validate` finds is kept as its catalog id and values (`Problem.said`), so the
people pages (the HTML and Markdown previews, the dashboard) show it in the campaign's language while the
command line keeps its English. A broken campaign of every kind: a message added without `Said` fails here."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape
from PIL import Image

from scheduler.cli.main import main
from scheduler.content.plan import Plan, build, with_past_due
from scheduler.content.problems import Problem, causes_first
from scheduler.publish.ledger import Ledger
from scheduler.web.app import create_app
from scheduler.web.site import Site
from scheduler.web.users import Role, User, Users, hash_password
from scheduler.words import translator
from tests.builders import CHANNELS, DEFAULTS, post, write_campaign
from tests.integration.daemon_helpers import wait_for
from tests.videos import make_video

AT = "2027-11-15 09:00"
HASHTAGS = "sets:\n  wtk: ['#WeekTegenKindermishandeling', '#kindermishandeling']\n"
TOO_LONG = "y" * 330
TELEGRAM = CHANNELS + "  telegram: {type: dryrun, like: telegram}\n"


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def with_image(channel: str) -> str:
    return post(publish_at=AT, channels=f"[{channel}]", media="[{path: media/a.png, alt: Een rode streep}]")


@dataclass(frozen=True)
class Video:
    """A test video made where the corpus writes it (tests/videos.py)."""

    seconds: float = 2.0
    fps: int = 10
    size: int = 64
    audio: bool = True


def media(*items: str) -> str:
    return "[" + ", ".join("{" + item + "}" for item in items) + "]"


VIDEO = "path: media/v.mp4, alt: Kim legt uit."
VIDEO_CHANNELS = (
    CHANNELS + "  telegram: {type: dryrun, like: telegram}\n  x: {type: dryrun, like: x}\n"
    "  slack: {type: dryrun, like: webhook, format: slack}\n"
)
CUES_OUTSIDE = "WEBVTT\n\n00:00:01.000 --> 00:00:00.500\nTerug.\n\n00:00:01.000 --> 00:00:04.500\nTe lang.\n"

# name → (posts, settings files written over the defaults); each one breaks something a writer can break
Files = dict[str, str | bytes | Video | None]
CORPUS: dict[str, tuple[dict[str, str], Files]] = {
    "typo'd key": ({"a.md": post(publish_at=AT, chanels="[mastodon]")}, {}),
    "key only a _defaults.yml takes": ({"a.md": post(publish_at=AT, schedule="{}")}, {}),
    "unquoted colon": ({"a.md": post(publish_at=AT, title="Dag 1: start")}, {}),
    "tab": ({"a.md": "---\npublish_at: 2027-11-15 09:00\n\tchannels: [mastodon]\n---\nTekst.\n"}, {}),
    "duplicate key": ({"a.md": "---\npublish_at: 2027-11-15 09:00\npublish_at: 2027-11-16 09:00\n---\nT.\n"}, {}),
    "no closing ---": ({"a.md": "---\npublish_at: 2027-11-15 09:00\nTekst.\n"}, {}),
    "front matter a list": ({"a.md": "---\n- a\n- b\n---\nTekst.\n"}, {}),
    "not UTF-8": ({}, {"posts/a.md": b"---\npublish_at: 2027-11-15 09:00\n---\nTekst \xff.\n"}),
    "29 February": ({"a.md": post(publish_at="2027-02-29 09:00")}, {}),
    "31 April": ({"a.md": post(publish_at="2027-04-31 09:00")}, {}),
    "month 13": ({"a.md": post(publish_at="2027-13-01 09:00")}, {}),
    "no time of day": ({"a.md": post(publish_at="2027-11-15")}, {}),
    "not a date": ({"a.md": post(publish_at="morgen")}, {}),
    "DST gap": ({"a.md": post(publish_at="2027-03-28 02:30")}, {}),
    "DST fold": ({"a.md": post(publish_at="2027-10-31 02:30")}, {}),
    "too long for Bluesky": ({"a.md": post(TOO_LONG, publish_at=AT, channels="[bluesky]")}, {}),
    "too long with a thread": ({"a.md": post("y" * 400, publish_at=AT, channels="[bluesky]", thread="true")}, {}),
    "missing alt": ({"a.md": post(publish_at=AT, media="[{path: media/a.png}]")}, {"media/a.png": "png"}),
    "missing media file": ({"a.md": post(publish_at=AT, media="[{path: media/b.png, alt: Een kind}]")}, {}),
    "a media file named as if beside the post": (
        {"a.md": post(publish_at=AT, media="[{path: foto.jpg, alt: Een kind}]")},
        {},
    ),
    "media outside": ({"a.md": post(publish_at=AT, media="[{path: ../b.png, alt: Een kind}]")}, {}),
    "media wrong kind": (
        {"a.md": post(publish_at=AT, media="[{path: media/a.txt, alt: Tekst, extra: 1}]")},
        {"media/a.txt": "tekst"},
    ),
    "image that is no image": ({"a.md": with_image("mastodon")}, {"media/a.png": "png"}),
    "image too long for Telegram": (
        {"a.md": with_image("telegram")},
        {"media/a.png": png((2100, 100)), "channels.yml": TELEGRAM},
    ),
    "image squashed to a sliver": ({"a.md": with_image("bluesky")}, {"media/a.png": png((20_000, 50))}),
    "image shrunk visibly": ({"a.md": with_image("bluesky")}, {"media/a.png": png((4200, 300))}),
    "unknown hashtag set": ({"a.md": post(publish_at=AT, hashtags="[wtc]")}, {"hashtags.yml": HASHTAGS}),
    "a tag that is no hashtag": ({"a.md": post(publish_at=AT, hashtags="['#a b']")}, {"hashtags.yml": HASHTAGS}),
    "hashtags.yml broken": ({"a.md": post(publish_at=AT)}, {"hashtags.yml": "sets: 3\nlimits: {x: -1}\nwat: 1\n"}),
    "a tag in lower case": ({"a.md": post("Zie #kindermishandeling.", publish_at=AT)}, {}),
    "template: misspelt var": ({"a.md": post("Bel {{ vars.helplin }}.", publish_at=AT)}, {}),
    "template: unknown name": ({"a.md": post("Hallo {{ onbekend }}.", publish_at=AT)}, {}),
    "template: syntax": ({"a.md": post("Hallo {% if %}.", publish_at=AT)}, {}),
    "template: unknown filter": ({"a.md": post("{{ post.id | upperr }}", publish_at=AT)}, {}),
    "template: include": ({"a.md": post("{% include 'x' %}", publish_at=AT)}, {}),
    "template: sandbox": ({"a.md": post("{{ post.__class__ }}", publish_at=AT)}, {}),
    "template: runs too long": (
        {
            "a.md": post(
                "{% for i in range(99) %}{% for j in range(99) %}"
                "{% for k in range(99) %}.{% endfor %}{% endfor %}{% endfor %}",
                publish_at=AT,
            )
        },
        {},
    ),
    "template: range": ({"a.md": post("{{ range(10**9) | list }}", publish_at=AT)}, {}),
    "template: a value has no key": ({"a.md": post("{{ post.titel }}", publish_at=AT)}, {}),
    "template: language": ({"a.md": post("{{ date | date('d MMMM', 'xx-nope') }}", publish_at=AT)}, {}),
    "broken _defaults.yml": (
        {"a.md": post(publish_at=AT), "b.md": post(publish_at="2027-11-16 09:00")},
        {"posts/_defaults.yml": DEFAULTS + "title: Dag 1: start\n"},
    ),
    "broken folder _defaults.yml": (
        {f"tips/{n}.md": post(f"Tip {n}.") for n in range(1, 3)},
        {"posts/tips/_defaults.yml": "schedule:\n\tstart: 2027-11-15 12:00\n  every: 1 day\n"},
    ),
    "wrong settings": (
        {"a.md": post(publish_at=AT)},
        {
            "posts/_defaults.yml": "campaign: Test\ntimezone: Europe/Amsterdm\nlanguage: xx-nope\nchannels: [mastodon]\n"
            "utm: {campaign: wtk, domains: [nergens]}\n"
        },
    ),
    "utm without a campaign": ({"a.md": post(publish_at=AT)}, {"posts/_defaults.yml": DEFAULTS + "utm: {x: 1}\n"}),
    "broken channels.yml": ({"a.md": post(publish_at=AT)}, {"channels.yml": "channels:\n\tmastodon: {}\n"}),
    "wrong channels": (
        {"a.md": post(publish_at=AT, channels="[mastodon, nergens]")},
        {
            "channels.yml": CHANNELS + "  Fout: {type: dryrun}\n  x: 3\n  y: {type: dryrun, like: mastodn}\n"
            "  z: {type: linkedin}\n  w: {type: dryrun, token: abcdefghijklmnopqrstuvwxyz0123456789}\n"
            "alerts: 3\nwat: 1\n"
        },
    ),
    "no channels.yml": ({"a.md": post(publish_at=AT)}, {"channels.yml": None}),
    "unknown channel": ({"a.md": post(publish_at=AT, channels="[mastodn]")}, {}),
    "wrong values": (
        {
            "a.md": post(
                publish_at=AT,
                id="'-x'",
                title="[1]",
                draft="ja",
                vars="3",
                max_late="soms",
                link_check="hould",
                language="xx-nope",
                card="{x: 1}",
            )
        },
        {},
    ),
    "wrong overrides": (
        {"a.md": post(publish_at=AT, overrides="{nergens: {body: x}, mastodon: {body: 3}, bluesky: {x: 1}}")},
        {},
    ),
    "no text": ({"a.md": post("", publish_at=AT)}, {}),
    "no time": ({"a.md": post()}, {}),
    "same id": ({"a.md": post(publish_at=AT, id="x"), "b.md": post("B.", publish_at=AT, id="x")}, {}),
    "same minute, same text": ({"a.md": post("Zelfde.", publish_at=AT), "b.md": post("Zelfde.", publish_at=AT)}, {}),
    "the starter's helpline": ({"a.md": post("Bel 0800-0000.", publish_at=AT)}, {}),
    "series too short": (
        {f"s/{n}.md": post(f"Tip {n}.") for n in range(1, 4)},
        {"posts/s/_defaults.yml": "schedule: {start: 2027-11-15 09:00, every: 1 day, count: 2}\n"},
    ),
    "series in the DST gap": (
        {f"s/{n}.md": post(f"Tip {n}.") for n in range(1, 3)},
        {"posts/s/_defaults.yml": "schedule: {start: 2027-03-27 02:30, every: 1 day}\n"},
    ),
    "series wrong": (
        {"s/1.md": post("Tip."), "t/1.md": post("Tip."), "u/1.md": post("Tip."), "v/1.md": post("Tip.")},
        {
            "posts/s/_defaults.yml": "schedule: {start: 2027-11-15 09:00, every: soms, wat: 1}\n",
            "posts/t/_defaults.yml": "schedule: {spread: {from: 2027-11-22, to: 2027-11-20, at: '10:00'}}\n",
            "posts/u/_defaults.yml": "schedule: {start: 2027-11-15 09:00, rrule: 'FREQ=NOOIT'}\n",
            "posts/v/_defaults.yml": "schedule: 3\n",
        },
    ),
    "watch list broken": ({"a.md": post(publish_at=AT)}, {"watchlist.yml": "phrases: 3\nhelplines: [1]\nwat: 1\n"}),
    "video: captions missing": ({"a.md": post(publish_at=AT, media=media(VIDEO))}, {"media/v.mp4": Video()}),
    "video: captions written wrong": (
        {
            "a.md": post(publish_at=AT, media=media(VIDEO + ", captions: {}")),
            "b.md": post("B.", publish_at=AT, media=media(VIDEO + ", captions: {none: '', nl: v.nl.vtt}")),
            "c.md": post("C.", publish_at=AT, media=media(VIDEO + ", captions: {nederlands: v.nl.vtt}")),
            "d.md": post("D.", publish_at=AT, media=media(VIDEO + ", captions: {nl: v.nl.txt}")),
            "e.md": post("E.", publish_at=AT, media=media(VIDEO + ", captions: {nl: v.nl.vtt}, extra: 1")),
            "f.md": post("F.", publish_at=AT, media=media("path: media/v.mp4, captions: {nl: v.nl.vtt}")),
        },
        {"media/v.mp4": Video(), "media/v.nl.vtt": "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHallo.\n"},
    ),
    "video: captions file not found": (
        {"a.md": post(publish_at=AT, media=media(VIDEO + ", captions: {nl: v.nl.vtt}"))},
        {"media/v.mp4": Video()},
    ),
    "video: a cue out of range": (
        {"a.md": post(publish_at=AT, media=media(VIDEO + ", captions: {nl: v.nl.vtt}"))},
        {"media/v.mp4": Video(), "media/v.nl.vtt": CUES_OUTSIDE},
    ),
    "video: captions that do not parse": (
        {
            "a.md": post(
                publish_at=AT,
                media=media(
                    VIDEO + ", captions: {nl: v.nl.vtt, en: v.en.srt, de: v.de.vtt, fr: v.fr.vtt, pt: v.pt.srt}"
                ),
            )
        },
        {
            "media/v.mp4": Video(),
            "media/v.nl.vtt": "Dit is geen WebVTT\n\n1 -> 2\n",
            "media/v.en.srt": "1\n00:00:01,000 --> 00:00:02,000\nHi.\n\nnonsense\n",
            "media/v.de.vtt": "WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nHallo.\n",
            "media/v.fr.vtt": b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCa\xe7a.\n",
            "media/v.pt.srt": "",
        },
    ),
    "video: over a network's limits": (
        {
            "a.md": post(
                publish_at=AT, channels="[x]", media=media("path: media/lang.mp4, alt: Kim, captions: {none: stil}")
            ),
            "b.md": post(
                "B.",
                publish_at=AT,
                channels="[mastodon, bluesky, x, telegram]",
                media=media("path: media/snel.webm, alt: Kim, captions: {none: stil}"),
            ),
        },
        {
            "channels.yml": VIDEO_CHANNELS,
            "media/lang.mp4": Video(seconds=141.0, fps=1, size=32, audio=False),
            "media/snel.webm": Video(seconds=0.1, fps=130),
        },
    ),
    "video: a network that takes no video": (
        {"a.md": post(publish_at=AT, channels="[slack]", media=media(VIDEO + ", captions: {none: stil}"))},
        {"channels.yml": VIDEO_CHANNELS, "media/v.mp4": Video()},
    ),
    "video: not a video": (
        {"a.md": post(publish_at=AT, media=media(VIDEO + ", captions: {nl: v.nl.vtt}"))},
        {
            "media/v.mp4": b"this is no video" * 64,
            "media/v.nl.vtt": "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHallo.\n",
        },
    ),
    "video: YouTube without a title or one video": (
        {
            "a.md": post(publish_at=AT, channels="[youtube]"),
            "b.md": post(
                "Kijk <hier>.",
                publish_at=AT,
                channels="[youtube]",
                title="'Tip <1>'",
                media=media(VIDEO + ", captions: {none: stil}"),
            ),
            "c.md": post(
                "C.",
                publish_at=AT,
                channels="[youtube]",
                title="'" + "t" * 101 + "'",
                media=media(VIDEO + ", captions: {none: stil}"),
            ),
        },
        {"channels.yml": VIDEO_CHANNELS + "  youtube: {type: dryrun, like: youtube}\n", "media/v.mp4": Video()},
    ),
    "video: not alone": (
        {
            "a.md": post(
                publish_at=AT, media=media(VIDEO + ", captions: {none: stil}", "path: media/a.png, alt: Een kind")
            )
        },
        {"media/v.mp4": Video(), "media/a.png": "png"},
    ),
}


def write(root: Path, posts: dict[str, str], files: Files, language: str = "nl") -> Path:
    write_campaign(root, posts, defaults=DEFAULTS.replace("language: nl", f"language: {language}"))
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.unlink()
        elif isinstance(text, Video):
            make_video(path, seconds=text.seconds, width=text.size, height=text.size, fps=text.fps, audio=text.audio)
        elif isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text if language == "nl" else text.replace("language: nl", f"language: {language}"))
    return root


def every_problem(plan: Plan) -> Iterator[Problem]:
    """The problems of every list a page shows: the plan's (as listed, causes first), each send's and each
    post not on the calendar's."""
    yield from causes_first(plan.problems)
    for entry in plan.entries:
        yield from entry.problems
    for unplaced in plan.unplaced:
        yield from unplaced.problems


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_every_problem_a_broken_campaign_has_is_kept_for_translation(tmp_path: Path, case: str) -> None:
    posts, files = CORPUS[case]
    plan = build(write(tmp_path, posts, files))
    plan = with_past_due(plan, datetime(2027, 11, 15, 9, 1, tzinfo=UTC))  # "was due 1 minute ago" too
    found = list(every_problem(plan))
    assert found, f"{case}: no problem found"
    unmarked = [str(p) for p in found if p.said is None]
    assert unmarked == [], "give these messages as Said.of(N_(...)) (docs/translating.md)"
    assert all(p.message == str(p.said) for p in found)  # the command line's English, unchanged
    if case.startswith("video:"):  # each of these has Dutch words, through its nested values too
        assert [p.message for p in found if p.said_in("nl") == p.message] == []


def test_the_corpus_finds_what_each_mistake_should_say(
    tmp_path: Path,
) -> None:  # a case that breaks nothing tests nothing
    wanted = {
        "29 February": "2027 has no 29 February",
        "DST gap": "does not exist in Europe/Amsterdam (clocks go forward); write 2027-03-28 03:30",
        "too long for Bluesky": "set `thread: true`, or write an `overrides:` text for bluesky",
        "missing alt": "alt text is missing",
        "unknown hashtag set": "'wtc' is not a set in hashtags.yml; did you mean 'wtk'?",
        "broken _defaults.yml": "2 posts not checked because posts/_defaults.yml has an error (line 5)",
        "broken channels.yml": "tabs cannot indent YAML; use spaces",
        "template: syntax": "template syntax error",
        "video: captions missing": "media/v.mp4: captions are missing",
        "video: captions written wrong": "captions language 'nederlands' is not a language code",
        "video: captions file not found": "captions file v.nl.vtt not found (looked in media/, posts/, ./)",
        "video: a cue out of range": "cue 0:01.000 --> 0:04.500 ends after the video",
        "video: captions that do not parse": "v.nl.vtt is not a WebVTT file",
        "video: over a network's limits": "x: media/lang.mp4 is 141.0 seconds long; X takes videos up to 140 seconds",
        "video: a network that takes no video": "slack does not take video (media/v.mp4)",
        "video: not a video": "v.mp4 cannot be read as a video",
        "video: not alone": "mastodon: a video goes alone in a post on Mastodon",
        "video: YouTube without a title or one video": "youtube: a post on YouTube needs a `title:`",
        "image that is no image": "it is not an image that can be read",
        "image too long for Telegram": "sides 21.0 to 1; the most is 20 to 1",
        "image squashed to a sliver": "limit of 2,000 px on the longest side it would be 2000×5",
        "image shrunk visibly": "crop it, or make it smaller yourself",
    }
    for case, words in wanted.items():
        root = tmp_path / re.sub(r"[^a-z0-9]+", "-", case.lower())
        posts, files = CORPUS[case]
        plan = build(write(root, posts, files))
        assert any(words in p.message for p in every_problem(plan)), (case, [p.message for p in plan.problems])


def test_an_image_cache_that_cannot_be_written_is_a_problem_kept_for_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("CAMPAIGN_CACHE_DIR", str(blocked))
    plan = build(write(tmp_path / "c", {"a.md": with_image("mastodon")}, {"media/a.png": png((40, 30))}))
    found = [p for p in every_problem(plan) if "CAMPAIGN_CACHE_DIR" in p.message]
    assert found and all(p.said is not None and p.message == str(p.said) for p in found)
    assert all("CAMPAIGN_CACHE_DIR" in p.said_in("nl") and p.said_in("nl") != p.message for p in found)


def dutch_and_english(root: Path) -> tuple[Plan, Plan]:
    """One campaign with many mistakes, in Dutch and in English."""
    posts = {
        "schrikkel.md": post(publish_at="2027-02-29 09:00"),
        "gat.md": post(publish_at="2027-03-28 02:30"),
        "lang.md": post(TOO_LONG, publish_at=AT, channels="[bluesky]"),
        "alt.md": post(publish_at="2027-11-16 09:00", media="[{path: media/a.png}]"),
        "set.md": post("Set.", publish_at="2027-11-17 09:00", hashtags="[wtc]"),
        "sjabloon.md": post("Bel {{ vars.helplin }}.", publish_at="2027-11-18 09:00"),
        "sleutel.md": post("Sleutel.", publish_at="2027-11-19 09:00", chanels="[mastodon]"),
        "tab.md": "---\npublish_at: 2027-11-20 09:00\n\tchannels: [mastodon]\n---\nTekst.\n",
        "hulplijn.md": post("Bel 0800-0000.", publish_at="2027-11-21 09:00"),
    }
    files: Files = {"hashtags.yml": HASHTAGS, "media/a.png": "png"}
    dutch, english = write(root / "nl", posts, files), write(root / "en", posts, files, language="en")
    return build(dutch), build(english)


def preview(root: Path, form: str) -> str:
    out = root / f"preview.{form}"
    result = CliRunner().invoke(main, ["--root", str(root), "preview", "--format", form, "-o", str(out)])
    assert out.exists(), result.output
    return out.read_text(encoding="utf-8")


def test_the_html_preview_of_a_dutch_campaign_lists_its_problems_in_dutch_and_an_english_one_in_english(
    tmp_path: Path,
) -> None:
    dutch, english = dutch_and_english(tmp_path)
    nl, en = preview(dutch.campaign.root, "html"), preview(english.campaign.root, "html")
    words = translator("nl").gettext
    assert len(dutch.problems) >= 9
    for problem in dutch.problems:
        assert str(escape(problem.said_in("nl"))) in nl, problem
        if problem.said_in("nl") != problem.message:
            assert str(escape(problem.message)) not in nl, problem
    for problem in english.problems:
        assert str(escape(problem.message)) in en, problem
    # the Dutch is the catalog's, not English with Dutch around it
    assert words("tabs cannot indent YAML; use spaces") in nl and "tabs cannot indent YAML" in en
    assert words("tabs cannot indent YAML; use spaces") != "tabs cannot indent YAML; use spaces"
    leap = words("{year} has no 29 February (it is not a leap year; February {year} ends on the 28th)")
    assert leap.format(year=2027) in nl and "2027 has no 29 February" not in nl
    # on the card of a send too (a warning: the placeholder helpline), not only in the list at the top
    card = re.search(r'<article[^>]*id="hulplijn@mastodon".*?</article>', nl, re.S)
    assert card and words("Warning") in card.group() and "0800-0000" in card.group()
    assert "starter's placeholder" not in card.group()


def test_the_markdown_preview_for_a_pull_request_lists_the_problems_in_the_campaigns_language(tmp_path: Path) -> None:
    dutch, english = dutch_and_english(tmp_path)
    nl, en = preview(dutch.campaign.root, "markdown"), preview(english.campaign.root, "markdown")
    words = translator("nl").gettext
    assert words("tabs cannot indent YAML; use spaces") in nl and "tabs cannot indent YAML; use spaces" not in nl
    assert "tabs cannot indent YAML; use spaces" in en
    key = words("unknown key {key}{hint}").format(key="'chanels'", hint=words("; did you mean {word}?"))
    assert key.format(word="'channels'") in nl.replace("\\", "")


PASSWORD = "anna's long password"


def test_the_dashboard_lists_a_post_that_cannot_be_planned_with_its_problem_in_the_campaigns_language(
    tmp_path: Path,
) -> None:
    posts = {"kapot.md": post(publish_at="2027-02-29 09:00"), "hulplijn.md": post("Bel 0800-0000.", publish_at=AT)}
    root = write(tmp_path / "campaign", posts, {})
    warned, problem = build(root).problems  # by path: a planned post with a warning, one that cannot be planned
    users = tmp_path / "users"
    Users(users).save({"anna": User("anna", Role.OPERATOR, hash_password(PASSWORD))})
    book = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    book.upgrade()
    try:
        client = create_app(Site(root, book, Users(users)), "s" * 40).test_client()
        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
        assert found
        client.post("/login", data={"username": "anna", "password": PASSWORD, "csrf_token": found.group(1)})
        assert wait_for(lambda: bool(client.get("/now.json").get_json()["cannot_be_planned"]), timeout=60)
        page = client.get("/").get_data(as_text=True)
        post_page = client.get("/posts/hulplijn").get_data(as_text=True)
    finally:
        book.close()
    dutch = problem.said_in("nl")
    assert dutch != problem.message and "2027 heeft geen 29 februari" in dutch
    assert f"posts/kapot.md:{problem.line}: {escape(dutch)}" in page
    assert "has no 29 February" not in page
    # a post's own page shows the problems of its sends in the campaign's language too
    assert warned.path == "posts/hulplijn.md" and warned.said_in("nl") != warned.message
    assert str(escape(warned.said_in("nl"))) in post_page and "starter's placeholder" not in post_page
