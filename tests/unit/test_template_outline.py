"""Templates of text and `{{ }}` share one compiled template per outline, with the same result as the full path.

A post whose template is only text and `{{ }}` expressions is not parsed again when another post
had the same expressions on the same lines (scheduler.content.outline._outline); a post whose text is
the same on every channel is rendered once. These tests compare both with the full path (parse,
check, compile and render each post for each channel, as before): the same texts and the same
problems, byte for byte, on generated templates, on the sample campaign and on a generated
campaign; and a runaway expression is still stopped by the budget on the outlined path.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.synthetic import generate
from scheduler.content import campaign as campaign_file
from scheduler.content import drafts as drafts_file
from scheduler.content.campaign import Campaign
from scheduler.content.drafts import Draft
from scheduler.content.outline import _outline
from scheduler.content.plan import build
from scheduler.content.render import Rendered, Renderer, _Compiled, _TemplateFailed

REPO = Path(__file__).resolve().parents[2]
DUE = datetime(2027, 11, 15, 8, 0, tzinfo=UTC)


class FullPath(Renderer):
    """The renderer as it was: every source parsed and compiled, every send rendered on its own."""

    def _from_outline(self, source: str) -> _Compiled | _TemplateFailed | None:
        return None


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[Campaign, Draft]]:
    """A campaign with three channels (two of one type), and one post of it to vary."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "posts").mkdir()
        (root / "channels.yml").write_text(
            "channels:\n  mastodon: {type: dryrun, like: mastodon}\n  bluesky: {type: dryrun, like: bluesky}\n"
            "  extra: {type: dryrun, like: mastodon}\n",
            encoding="utf-8",
        )
        (root / "hashtags.yml").write_text("sets:\n  week: ['#Week']\ndefault: [week]\n", encoding="utf-8")
        (root / "posts" / "_defaults.yml").write_text(
            "campaign: Outline\ntimezone: Europe/Amsterdam\nlanguage: nl\nchannels: [mastodon, bluesky, extra]\n"
            "vars: {helpline: '0800-2000', site: 'https://example.org', count: 3, list: [a, b]}\n",
            encoding="utf-8",
        )
        (root / "posts" / "a.md").write_text("---\ntitle: Titel {x}\npublish_at: 2027-11-15 09:00\n---\nx\n")
        campaign, problems = campaign_file.load(root)
        assert not problems
        drafts, problems = drafts_file.read_all(campaign)
        assert not problems and len(drafts) == 1
        yield campaign, drafts[0]


def render_all(renderer: Renderer, campaign: Campaign, drafts: list[Draft]) -> list[Rendered]:
    return [renderer.render(d, channel, DUE) for d in drafts for channel in campaign.channels.values()]


EXPRESSIONS = [  # each a whole `{{ }}` of its own; some fail, as a writer's may
    " post.title ",
    "post.title",
    " vars.helpline ",
    "vars.site~'/x'",
    " date | date('EEEE d MMMM') | capitalize ",
    ' date | date("HH:mm") ',
    " date.year ",
    " channel.name ",
    " channel.limit ",
    " hashtags ",
    " campaign.name | upper ",
    " vars.count * 2 ",
    " vars.list | join(', ') ",
    " vars.nope ",
    " post.nope ",
    " nope ",
    " post.title | nofilter ",
    " (post.title ",
    " post.title) ",
    " [post.title, vars.helpline] | join ",
    " 'x' * 200000 ",
    " post.title\n| upper ",
    " post.__class__ ",
    " 'unclosed ",
    "",
]
NOT_OUTLINED = [  # expressions an outline leaves to the full path
    "- post.title ",
    " post.title -",
    "+ post.title ",
    " 'a }} b' ",
    " '{' ~ vars.helpline ",
    " vars.helpline | replace('0', '}}') ",
    " {'a': 1}.a ",
]
BLOCKS = ["{% if post.title %}", "{% endif %}", "{# note #}", "{%- raw %}{{ x }}{% endraw %}", "{% set a = 1 %}"]


SAFE_TEXT = st.text(alphabet="ab #é\n}-'\"", max_size=12)  # text an outline keeps: quotes, `}}`, newlines
HOSTILE_TEXT = st.text(alphabet="a{}%#\n\r\\", max_size=6)  # and what it must leave to the full path


@st.composite
def outlined_pair(draw: st.DrawFn) -> tuple[str, str]:
    """Two template sources with the same expressions on the same lines and other text around them."""
    expressions = st.sampled_from(EXPRESSIONS).map(lambda e: ("expression", "{{" + e + "}}"))
    text = SAFE_TEXT.map(lambda t: ("text", t))
    tricky = st.sampled_from(NOT_OUTLINED).map(lambda e: ("expression", "{{" + e + "}}"))
    kind = draw(st.sampled_from(["outlined", "tricky", "any"]))
    if kind == "outlined":  # text and expressions an outline takes
        piece = st.one_of(text, expressions)
    elif kind == "tricky":  # and expressions it must not take, next to text it would get wrong
        piece = st.one_of(text, expressions, tricky)
    else:
        hostile = HOSTILE_TEXT.map(lambda t: ("text", t))
        piece = st.one_of(text, hostile, expressions, tricky, st.sampled_from(BLOCKS).map(lambda b: ("block", b)))
    pieces = draw(st.lists(piece, min_size=1, max_size=8))
    swap = str.maketrans("ab é#", "b a#é")  # the same lines, other words and spaces
    first = "".join(value for _, value in pieces)
    second = "".join(value.translate(swap) if kind == "text" else value for kind, value in pieces)
    return first, second


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=outlined_pair())
@example(pair=("{{ post.title -}}b", "{{ post.title -}} b"))  # `-}}` strips the text after it
@example(pair=("b{{- post.title }}", "b {{- post.title }}"))
@example(pair=("{{ post.title }}b\n", "{{ post.title }}b\n\n"))  # one newline at the end goes
@example(pair=("{{ 'a }}b' }}", "{{ 'a }}b ' }}"))  # a string may hold `}}`
@example(pair=("{{ post.title }}", "{{ post.title }}\r\n"))
@example(pair=("{{ post.title }}b{%", "{{ post.title }}b{# #}"))
def test_outlined_templates_render_exactly_as_the_full_path(
    small: tuple[Campaign, Draft], pair: tuple[str, str]
) -> None:
    campaign, draft = small
    drafts = [replace(draft, body=pair[0]), replace(draft, body=pair[1], id="b"), replace(draft, body=pair[0])]
    assert render_all(Renderer(campaign), campaign, drafts) == render_all(FullPath(campaign), campaign, drafts)


@pytest.mark.parametrize(
    "sources",
    [
        (
            "{{ post.title }} a\n\n{{ date | date('EEEE') }} b\n",
            "{{ post.title }} xyz\n\n{{ date | date('EEEE') }} q\n",
        ),
        ("{{ channel.name }}: {{ vars.helpline }}", "{{ channel.name }}! {{ vars.helpline }}"),
        ("{{ hashtags }} a", "{{ hashtags }} b #Week"),
        ("a }} {{ post.title }} {x}\n\n", "b }} {{ post.title }} {y}\n"),
        ("{{ post.title }}", "{{ post.title }}\n"),
    ],
)
def test_the_second_source_of_an_outline_is_not_parsed_and_renders_as_the_full_path(
    small: tuple[Campaign, Draft], sources: tuple[str, str]
) -> None:
    campaign, draft = small
    renderer = Renderer(campaign)
    first, second = renderer._compile(sources[0]), renderer._compile(sources[1])
    assert isinstance(first, _Compiled) and isinstance(second, _Compiled)
    assert second.template is first.template and len(renderer._outlines) == 1
    drafts = [replace(draft, body=source) for source in sources]
    assert render_all(renderer, campaign, drafts) == render_all(FullPath(campaign), campaign, drafts)


def test_a_runaway_expression_is_stopped_by_the_budget_on_the_outlined_path(small: tuple[Campaign, Draft]) -> None:
    campaign, draft = small
    runaway = "{{ range(1000)" + "|map('string')" * 120 + "|join }}"  # 120,000 filter calls: over MAX_STEPS
    sources = ["Eerst " + runaway, "Dan " + runaway, "En " + runaway + "\n"]
    renderer = Renderer(campaign)
    results = render_all(renderer, campaign, [replace(draft, body=source) for source in sources])
    assert len(renderer._outlines) == 1 and len(renderer._compiled) == 3
    for rendered in results:
        assert rendered.post is None
        assert [p.message.startswith("this template runs too long") for p in rendered.problems] == [True]
    too_big = [replace(draft, body=text + "{{ vars.helpline * 100000 }}") for text in ("a", "b")]
    for rendered in render_all(renderer, campaign, too_big):
        assert rendered.post is None and "would make" in rendered.problems[0].message


def assert_plan_renders_as_the_full_path(root: Path) -> None:
    for parallel in (False, True):
        plan = build(root, parallel=parallel)
        reference = FullPath(plan.campaign)
        assert plan.entries
        for entry in plan.entries:
            expected = reference.render(entry.draft, entry.channel, entry.due)
            assert entry.post == expected.post
            assert set(expected.problems) <= set(entry.problems)


def test_the_sample_campaign_renders_as_the_full_path() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "sample"
        (root / "posts").mkdir(parents=True)
        for name in ("channels.yml", "hashtags.yml", "watchlist.yml"):
            shutil.copy(REPO / name, root / name)
        shutil.copytree(REPO / "posts", root / "posts", dirs_exist_ok=True)
        shutil.copytree(REPO / "media", root / "media")
        assert_plan_renders_as_the_full_path(root)


@pytest.mark.parametrize("templates", [True, False])
def test_a_generated_campaign_renders_as_the_full_path(templates: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        assert_plan_renders_as_the_full_path(generate(Path(folder) / "campaign", 1_200, templates=templates))


@pytest.mark.parametrize("expression", NOT_OUTLINED)
def test_expressions_whose_end_or_surroundings_jinja_may_change_are_left_to_the_full_path(expression: str) -> None:
    assert _outline("a {{" + expression + "}} b") is None
    assert _outline("a {{ post.title }} b") is not None
