"""The HTML preview: escaping, language and time zone, cards, length bars, problems, self-containment."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape
from PIL import Image

from scheduler.content.plan import Plan, build
from scheduler.views import html
from tests.builders import DEFAULTS, post, write_campaign

# A 1×1 PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside elements of a given class."""

    def __init__(self, text_of_class: str = "text") -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self._class = text_of_class
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if self._depth:
            self._depth += 1
        elif tag == "p" and self._class in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.texts[-1] += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser


def page_of(plan: Plan, drafts: bool = False) -> str:
    return html.render_page(plan, plan.select(drafts=drafts), plan.problems)


def cards(parsed: Tags) -> list[dict[str, str | None]]:
    return [a for t, a in parsed.tags if t == "article" and "card" in (a.get("class") or "").split()]


def test_script_in_a_draft_is_shown_as_text_never_run(tmp_path: Path) -> None:
    body = '<script>alert("x")</script> <img src=x onerror=alert(1)> Hallo & welkom'
    write_campaign(tmp_path, {"a.md": post(body, publish_at="2027-11-15 09:00", title='"<b>vet</b>"')})
    page = page_of(build(tmp_path))
    parsed = parse(page)

    assert parsed.texts == [body]  # exactly what was written, as text
    assert page.count("<script") == 1  # only the page's own script
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert parsed.find("img") == []
    assert "<b>vet</b>" not in page and "&lt;b&gt;vet&lt;/b&gt;" in page


def test_a_dutch_campaign_has_dutch_day_and_month_names(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"a.md": post(publish_at="2027-11-15 09:00")})
    page = page_of(build(tmp_path))
    parsed = parse(page)

    assert parsed.find("html")[0]["lang"] == "nl"
    assert ">maandag 15 november</time>" in page
    assert "november 2027" in page
    headers = [a.get("title") for a in parsed.find("abbr")]
    assert headers == ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"]
    assert "Tijden in Europe/Amsterdam" in page


def test_an_english_campaign_gets_english_names_and_words(tmp_path: Path) -> None:
    defaults = DEFAULTS.replace("language: nl", "language: en")
    write_campaign(tmp_path, {"a.md": post(publish_at="2027-11-15 09:00")}, defaults=defaults)
    page = page_of(build(tmp_path))

    assert ">Monday 15 November</time>" in page
    assert "Times in Europe/Amsterdam" in page


def test_times_are_shown_in_the_campaign_zone(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"a.md": post(publish_at="2027-11-15T08:00:00Z")})
    parsed = parse(page_of(build(tmp_path)))

    assert {"datetime": "2027-11-15T09:00:00+01:00"} in parsed.find("time")
    assert parsed.find("time", datetime="2027-11-15")  # the day, in the week view and the month grid


def test_every_post_on_every_channel_is_one_focusable_card(tmp_path: Path) -> None:
    both = "[mastodon, bluesky]"
    write_campaign(
        tmp_path,
        {
            "a.md": post("Een.", publish_at="2027-11-15 09:00", channels=both),
            "b.md": post("Twee.", publish_at="2027-11-16 09:00", channels=both),
            "c.md": post("Drie.", publish_at="2027-12-01 09:00"),
            "d.md": post("Vier.", publish_at="2027-12-02 09:00", draft="true"),
        },
    )
    plan = build(tmp_path)
    found = cards(parse(page_of(plan)))

    assert len(found) == 5
    assert all(card["tabindex"] == "0" for card in found)
    assert {card["id"] for card in found} == {"a@mastodon", "a@bluesky", "b@mastodon", "b@bluesky", "c@mastodon"}
    with_drafts = parse(page_of(plan, drafts=True))
    assert len(cards(with_drafts)) == 6
    assert "is-draft" in (with_drafts.find("article", id="d@mastodon")[0]["class"] or "")


def test_length_bar_shows_length_against_the_channel_limit(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {
            "kort.md": post("x" * 150, publish_at="2027-11-15 09:00", channels="[bluesky]"),
            "lang.md": post("y" * 330, publish_at="2027-11-16 09:00", channels="[bluesky]"),
        },
    )
    page = page_of(build(tmp_path))

    assert '<span style="width:50%"></span></span>150 / 300 tekens</p>' in page
    assert '<p class="len over"><span class="bar" aria-hidden="true"><span style="width:100%">' in page
    assert "330 / 300 tekens, 30 te veel" in page


def test_problems_are_shown_on_the_card_and_at_the_top(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"lang.md": post("y" * 330, publish_at="2027-11-16 09:00", channels="[bluesky]")})
    plan = build(tmp_path)
    page = page_of(plan)
    parsed = parse(page)

    assert "has-error" in (parsed.find("article", id="lang@bluesky")[0]["class"] or "")
    (problem,) = plan.problems  # in the campaign's language (Dutch), as the command line says it in English
    assert problem.message.startswith("bluesky: text is 330 graphemes, over the limit of 300")
    dutch = problem.said_in("nl")
    assert dutch.startswith("bluesky: tekst is 330 tekens") and f"<strong>Fout:</strong> {escape(dutch)}" in page
    assert parsed.find("section", id="problems")
    assert f"<code>posts/lang.md:5</code> {escape(dutch)}" in page and "text is 330" not in page
    assert "1 fout, 0 waarschuwingen" in page


def test_links_and_hashtags_are_marked(tmp_path: Path) -> None:
    body = "Lees https://example.org/a?b=1&c=2 nu. #VeiligThuis"
    write_campaign(tmp_path, {"a.md": post(body, publish_at="2027-11-15 09:00")})
    page = page_of(build(tmp_path))

    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">' in page
    assert '<span class="tag">#VeiligThuis</span>' in page


def test_the_page_makes_no_requests_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "pixel.png").write_bytes(PIXEL)
    front = {"publish_at": "2027-11-15 09:00", "media": "[{path: media/pixel.png, alt: Een stip}]"}
    write_campaign(tmp_path, {"a.md": post("Zie https://example.org/pagina", **front)})
    page = page_of(build(tmp_path))
    parsed = parse(page)

    own = [
        (tag, attrs.get(name) or "")
        for tag, attrs in parsed.tags
        for name in ("src", "href", "srcset", "poster", "data")
        if name in attrs and not (tag == "a" and attrs.get(name) == "https://example.org/pagina")
    ]
    assert own, "the page has links of its own (month navigation)"
    assert not [(tag, url) for tag, url in own if re.match(r"(?i)\s*(https?:)?//", url)]
    assert not re.search(r"(?i)@import|url\(\s*['\"]?(https?:)?//", page)
    src = parsed.find("img", alt="Een stip")[0]["src"] or ""
    assert src.startswith("data:image/png;base64,")  # the network's rendition of the pixel, embedded
    with (
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as shown,
        Image.open(io.BytesIO(PIXEL)) as pixel,
    ):
        assert shown.size == pixel.size
        assert shown.convert("RGBA").getpixel((0, 0)) == pixel.convert("RGBA").getpixel((0, 0))


def test_a_large_image_is_named_with_its_alt_text_instead_of_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html, "EMBED_MAX_BYTES", 10)
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "groot.png").write_bytes(PIXEL)
    front = {"publish_at": "2027-11-15 09:00", "media": "[{path: media/groot.png, alt: Een grote foto}]"}
    write_campaign(tmp_path, {"a.md": post("Kijk.", **front)})
    page = page_of(build(tmp_path))

    assert parse(page).find("img") == []
    assert "media/groot.png (niet ingesloten: te groot)" in page
    assert "<b>Alt-tekst:</b> Een grote foto" in page


def test_months_after_the_first_are_collapsed(tmp_path: Path) -> None:
    write_campaign(
        tmp_path,
        {"a.md": post("Een.", publish_at="2027-11-15 09:00"), "b.md": post("Twee.", publish_at="2028-01-15 09:00")},
    )
    parsed = parse(page_of(build(tmp_path)))

    details = parsed.find("details")
    assert len(details) == 2
    assert "open" in details[0] and "open" not in details[1]


def test_a_big_campaign_is_an_index_and_one_page_per_month(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html, "ONE_PAGE_MAX_ENTRIES", 2)
    write_campaign(
        tmp_path,
        {
            "a.md": post("Een.", publish_at="2027-11-15 09:00"),
            "b.md": post("Twee.", publish_at="2027-11-30 23:30"),
            "c.md": post("Drie.", publish_at="2027-12-01 09:00"),
        },
    )
    plan = build(tmp_path)
    pages = html.render_pages(plan, plan.select(), plan.problems, "out.html")

    assert list(pages) == ["out.html", "out-2027-11.html", "out-2027-12.html"]
    index = parse(pages["out.html"])
    assert cards(index) == []
    assert index.find("a", href="out-2027-11.html#b@mastodon")
    assert {c["id"] for c in cards(parse(pages["out-2027-11.html"]))} == {"a@mastodon", "b@mastodon"}
    assert {c["id"] for c in cards(parse(pages["out-2027-12.html"]))} == {"c@mastodon"}
    assert parse(pages["out-2027-12.html"]).find("a", href="out-2027-12.html", **{"aria-current": "page"})


def test_an_empty_selection_still_makes_a_page(tmp_path: Path) -> None:
    write_campaign(tmp_path, {"a.md": post(publish_at="2027-11-15 09:00", draft="true")})
    page = page_of(build(tmp_path))

    assert "Geen berichten" in page
    assert cards(parse(page)) == []


def test_many_warnings_are_collapsed_but_errors_stay_open(tmp_path: Path) -> None:
    same_minute = {f"p{i}.md": post(f"Bericht {i}.", publish_at="2027-11-15 09:00") for i in range(7)}
    write_campaign(
        tmp_path, {**same_minute, "lang.md": post("y" * 330, publish_at="2027-11-16 09:00", channels="[bluesky]")}
    )
    page = page_of(build(tmp_path))

    assert "<details open>\n<summary>1 fout</summary>" in page
    assert "<details>\n<summary>6 waarschuwingen</summary>" in page
