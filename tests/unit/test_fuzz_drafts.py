"""Nothing a draft contains can crash `campaign validate`, and every problem names a real place.

The properties are checked with Hypothesis on a small valid campaign into which generated content
is written (bytes, hostile YAML, wrong types, odd local times, hostile Jinja, media paths, series
schedules); the concrete hostile inputs are pinned by plain regression tests below them.

Deeper runs: FUZZ_SCALE=20 python -m pytest tests/unit/test_fuzz_drafts.py (20× the examples).
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.cli.main import main
from scheduler.content.fields import POST_KEYS
from scheduler.content.plan import Plan, build

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
FUZZED = "posts/m-fuzzed.md"
FUZZ_DEFAULTS = "posts/fuzz/_defaults.yml"
CONFIG_FILES = {"channels.yml", "hashtags.yml", "posts"}
BASE: dict[str, str | bytes] = {
    "channels.yml": "channels:\n  mastodon: {type: dryrun, like: mastodon}\n  bluesky: {type: dryrun, like: bluesky}\n",
    "hashtags.yml": "sets:\n  week: ['#WeekTegenKindermishandeling']\ndefault: [week]\nlimits: {bluesky: 3}\n",
    "posts/_defaults.yml": (
        "campaign: Fuzz\ntimezone: Europe/Amsterdam\nlanguage: nl\nchannels: [mastodon, bluesky]\n"
        "vars: {helpline: '0800-2000'}\n"
    ),
    "posts/a-valid.md": (
        "---\ntitle: Geldig\npublish_at: 2027-11-15 09:00\n---\n"
        "{{ date | date('EEEE') | capitalize }}: bel {{ vars.helpline }}.\n"
    ),
    "posts/series/_defaults.yml": "schedule: {start: '2027-11-16 12:00', every: 1 day}\n",
    "posts/series/01-valid.md": "---\ntitle: Reeks\n---\nEen tip per dag. #TeamKim\n",
    "posts/fuzz/_defaults.yml": "hashtags: []\n",
    "posts/fuzz/01-valid.md": "---\npublish_at: 2027-11-17 09:00\n---\nIn de map met eigen defaults.\n",
    "media/photo.png": b"\x89PNG\r\n\x1a\n",
}
VALID_IDS = {"a-valid", "series/01-valid"}  # posts/fuzz/ is not in: its _defaults.yml is fuzzed too


# ------------------------------------------------------------------------------ the campaign


def write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8", "surrogatepass"))


@contextmanager
def campaign(files: Mapping[str, str | bytes]) -> Iterator[Path]:
    """The base campaign with `files` added or replaced, in a fresh folder."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "campaign"
        write(root, {**BASE, **files})
        yield root


def line_count(path: Path) -> int:
    raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return raw.count(b"\n") + 1


def sends(plan: Plan, ids: set[str]) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {
        (e.draft.id, e.channel.name): (e.due.isoformat(), e.post.text if e.post else None)
        for e in plan.entries
        if e.draft.id in ids
    }


def fingerprint(plan: Plan) -> tuple[list[str], list[tuple[str, str, str, str | None]]]:
    entries = [(e.draft.id, e.channel.name, e.due.isoformat(), e.post.text if e.post else None) for e in plan.entries]
    return [str(p) for p in plan.problems], entries


@functools.cache
def baseline() -> dict[tuple[str, str], tuple[str, str | None]]:
    """The valid posts' sends in the untouched campaign."""
    with campaign({}) as root:
        found = sends(build(root), VALID_IDS)
    assert len(found) == 4 and all(text for _, text in found.values()), found
    return found


def check_properties(root: Path, *, keeps_valid_posts: bool = True) -> Plan:
    """Build twice; no exception, real places, same result both times, valid posts untouched."""
    plan = build(root)
    for problem in plan.problems:
        path = root / problem.path
        assert problem.path in CONFIG_FILES or os.path.lexists(path), problem
        assert problem.line >= 0, problem
        if path.is_file():
            assert problem.line <= line_count(path), problem
        assert "\n" not in str(problem), problem
    assert fingerprint(build(root)) == fingerprint(plan)
    if keeps_valid_posts:
        assert sends(plan, VALID_IDS) == baseline()
    return plan


# ------------------------------------------------------------------------------ generators

RAW_PIECES = [
    b"---",
    b"---\n",
    b"\n",
    b"\r\n",
    b"\r",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"\xc2\x85",
    b"\t",
    b": ",
    b"- ",
    b"[",
    b"{",
    b"title: x\n",
    b"publish_at: 2027-11-20 10:00\n",
    b"{{ vars.helpline }}",
    b"{% if 1 %}",
    b"{%",
    b"}}",
    b"#Tag ",
    b"Hallo ",
]
YAML_HOSTILE = [
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!set {a: null}",
    "!!omap [a: 1]",
    "!!timestamp 2001-12-14",
    "!custom x",
    "&anchor [1, 2]",
    "*anchor",
    "[&a x, *a]",
    "{<<: {a: 1}}",
    "{? [a, b] : 1}",
    "{[1, 2]: x}",
    "{{a: 1}: x}",
    "9" * 5000,
    "0x" + "f" * 4000,
    ".nan",
    ".inf",
    "-.inf",
    "1e999",
    "~",
    "yes",
    "no",
    '"\\x00"',
    '"\\ud800"',
    '"\\t"',
    "'unclosed",
    "[unclosed",
    "{a: 1",
    "@reserved",
    "`reserved",
    "%TAG",
    "|\n  block\n  text",
    ">\n  folded\n  text",
    "\n  - a\n  - b",
    "\n  a: 1\n  a: 2",
    "\n\tx: 1",
    "[" * 300 + "]" * 300,
    "{a: " * 300 + "1" + "}" * 300,
]
JINJA_HOSTILE = [
    "{{ ''.__class__.__mro__ }}",
    "{{ vars.__init__.__globals__ }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for i in range(10**100) %}x{% endfor %}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{{ 'a' * 10**9 }}",
    "{{ [1] * 10**9 }}",
    "{{ 10**10**10 }}",
    "{{ 2**100000 }}",
    "{{ 10**5000 }}",
    "{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
    "{{ nope }}",
    "{{ vars.nope }}",
    "{{ post.title.upper() }}",
    "{{ foo( }}",
    "{% if %}",
    "{% endfor %}",
    "{% include 'x' %}",
    "{% extends 'x' %}",
    "{% import 'x' as y %}",
    "{% extends %}",
    "{{ date | date(1, 2, 3, 4) }}",
    "{{ date | date('x', locale='zz_ZZ') }}",
    "{{ date | date('EEEE' * 50) }}",
    "{{ 'x' | truncate('a') }}",
    "{{ 'x' | nosuch }}",
    "{{ 'x' | center(10**9) }}",
    "{{ 'x\ny' | indent(10**9) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '{:999999999}'.format(1) }}",
    "{{ range(10) | slice(10**9) | list }}",
    "{{ range(10) | batch(10**9, 'x') | list }}",
    "{{ ('a\t' * 50000).expandtabs(99999) }}",
    "{{ 'x' | indent([1] * 99999) }}",
    "{{ lipsum(10**6) }}",
    "{{ '\\ud800' }}",
    "{{ 1 / 0 }}",
    "{% raw %}{{",
    "{# open",
    "{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}",
    "{{" * 2000,
    "{% if 1 %}" * 200 + "x" + "{% endif %}" * 200,
    "{% for a in [1] %}" * 25 + "x" + "{% endfor %}" * 25,
    "{{ hashtags }}",
    "{% set hashtags = 'x' %}{{ hashtags }}",
    "{{ channel.limit * 'x' }}",
    "{{ date.replace(year=10000) }}",
]
MEDIA_PATHS = [
    "../x.png",
    "/etc/passwd",
    "C:\\x.png",
    "C:x",
    "\\\\server\\share.png",
    "~/x.png",
    "",
    " ",
    "media",
    "media/",
    "media/photo.png",
    "media/./photo.png",
    "media//photo.png",
    "media/photo.png/..",
    "media/missing.png",
    "media/outside.png",
    "media/loop.png",
    "file:///etc/passwd",
    "a\x00b",
    "a/" * 200,
]
SPECIAL_FILES: dict[str, Callable[[Path], None]] = {
    "media/outside.png": lambda p: p.symlink_to("/etc/hostname"),
    "media/loop.png": lambda p: p.symlink_to("loop.png"),
}
LOCAL_TIMES = [
    "2027-03-28 02:30",  # the spring gap in Europe/Amsterdam
    "2027-10-31 02:30",  # the autumn fold
    "2027-10-31T02:30+01:00",
    "2027-11-20 10:00",
    "2027-11-20",
    "0001-01-01 00:00",
    "9999-12-31 23:59",
    "9999-12-31T23:59+00:00",
    "2027-02-30 10:00",
    "2027-11-20 25:00",
    "yesterday",
]
RRULES = [
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=MO,TH",
    "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1",
    "FREQ=DAILY;COUNT=1",
    "FREQ=DAILY;UNTIL=20260101",
    "FREQ=DAILY;INTERVAL=0",
    "FREQ=DAILY;BYHOUR=25",
    "FREQ=NEVER",
    "DTSTART:20270101\nRRULE:FREQ=DAILY",
    "",
    ";;;",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def indented(snippet: str) -> str:
    return snippet.replace("\n", "\n  ")


yaml_values = st.one_of(
    json_values.map(json.dumps),
    st.sampled_from(YAML_HOSTILE).map(indented),
    st.text(max_size=40).map(json.dumps),
    st.sampled_from(LOCAL_TIMES),
)
good_values: dict[str, st.SearchStrategy[str]] = {
    "publish_at": st.sampled_from(LOCAL_TIMES),
    "channels": st.sampled_from(["[mastodon]", "[bluesky, mastodon]", "[mastodn]", "mastodon", "[]", "[[mastodon]]"]),
    "hashtags": st.sampled_from(["[week]", "['#Extra']", "[]", "[1, 2]", "['#']", "[nosuchset]", "week"]),
    "media": st.sampled_from(MEDIA_PATHS).map(lambda p: json.dumps([{"path": p, "alt": "Een foto"}])),
    "overrides": st.sampled_from([*JINJA_HOSTILE, "Eigen tekst"]).map(
        lambda body: json.dumps({"mastodon": {"body": "Regel een\n" + body}})
    ),
    "id": st.sampled_from(["ok-id", "../x", "", "a b", "x" * 300]),
    "language": st.sampled_from(["en", "nl_NL", "zz", "", "x_" * 100, "nl-NL"]),
    "max_late": st.sampled_from(["30 minutes", "0", "99999999999 weeks", "9" * 5000 + " days", "-1 day"]),
    "card": st.sampled_from(["{title: T, description: D}", "{url: x}", "[1]"]),
}
keys = st.sampled_from([*sorted(POST_KEYS), "schedule", "timezone", "campaign", "unknown", "Publish_At", "1"])


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    lines = []
    for key in draw(st.lists(keys, max_size=6)):
        strategy = good_values.get(key, yaml_values)
        value = draw(st.one_of(strategy, yaml_values) if key in good_values else strategy)
        lines.append(f"{key}: {value}")
    return "".join(f"{line}\n" for line in lines)


bodies = st.one_of(
    st.text(max_size=200),
    st.sampled_from(JINJA_HOSTILE),
    st.lists(
        st.sampled_from(["{{", "}}", "{%", "%}", "{#", "#}", "if", "for", "x", "in", "(", ")", "|", "'", " ", "\n"]),
        max_size=30,
    ).map("".join),
    st.lists(st.sampled_from(JINJA_HOSTILE) | st.text(max_size=20), max_size=4).map("\n".join),
)


@st.composite
def post_files(draw: st.DrawFn) -> str:
    body = draw(bodies)
    shape = draw(st.sampled_from(["normal", "normal", "normal", "no-close", "dashes-only", "empty", "no-front"]))
    if shape == "no-close":
        return f"---\n{draw(front_matter())}{body}"
    if shape == "dashes-only":
        return "---\n"
    if shape == "empty":
        return ""
    if shape == "no-front":
        return body
    return f"---\n{draw(front_matter())}---\n{body}\n"


raw_files = st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from(RAW_PIECES) | st.binary(max_size=8), max_size=40).map(b"".join),
    st.tuples(post_files(), st.binary(max_size=6), st.integers(0, 400)).map(
        lambda t: (lambda b: b[: t[2]] + t[1] + b[t[2] :])(t[0].encode("utf-8", "surrogatepass"))
    ),
)

schedule_values = st.one_of(
    st.dictionaries(
        st.sampled_from(["start", "every", "until", "count", "rrule", "spread", "at"]),
        st.one_of(
            st.sampled_from(LOCAL_TIMES).map(json.dumps),
            st.sampled_from(RRULES).map(json.dumps),
            st.sampled_from(["'1 day'", "'0 days'", "'99999999999 days'", "'2000000 days'", "'1 fortnight'", "0"]),
            st.sampled_from(["{from: 2027-01-01, to: 2027-01-02, at: '10:00'}", "{from: 2027-01-02, to: 2027-01-01}"]),
            yaml_values,
        ),
        max_size=4,
    ).map(lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"),
    yaml_values,
)


@st.composite
def defaults_files(draw: st.DrawFn) -> str:
    lines = [f"schedule: {draw(schedule_values)}"] if draw(st.booleans()) else []
    lines += [line.rstrip("\n") for line in draw(front_matter()).splitlines(keepends=True)]
    return "".join(f"{line}\n" for line in draw(st.permutations(lines)))


FUZZ = settings(
    max_examples=300 * SCALE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ------------------------------------------------------------------------------ properties


@FUZZ
@given(text=post_files())
def test_any_post_text_is_reported_never_raised_and_hides_no_other_post(text: str) -> None:
    with campaign({FUZZED: text}) as root:
        check_properties(root)


@FUZZ
@given(raw=raw_files)
def test_any_bytes_in_a_post_are_reported_never_raised_and_hide_no_other_post(raw: bytes) -> None:
    with campaign({FUZZED: raw}) as root:
        check_properties(root)


@FUZZ
@given(text=post_files(), media=st.sampled_from(MEDIA_PATHS))
def test_media_paths_and_links_never_reach_outside_the_campaign(text: str, media: str) -> None:
    front = f"---\npublish_at: 2027-11-20 10:00\nmedia: {json.dumps([{'path': media, 'alt': 'Foto'}])}\n---\n"
    with campaign({FUZZED: front + "Met foto.\n", "posts/n-fuzzed.md": text}) as root:
        for relative, make in SPECIAL_FILES.items():
            make(root / relative)
        plan = check_properties(root)
        for entry in plan.entries:
            for item in entry.post.media if entry.post else ():
                assert item.path.resolve().is_relative_to(root.resolve())


@FUZZ
@given(defaults=defaults_files(), text=post_files())
def test_a_hostile_folder_defaults_file_affects_only_its_own_folder(defaults: str, text: str) -> None:
    with campaign({FUZZ_DEFAULTS: defaults, "posts/fuzz/02-fuzzed.md": text}) as root:
        check_properties(root)


@FUZZ
@given(hashtags=st.one_of(st.binary(max_size=200), defaults_files().map(str.encode)), channels=yaml_values)
def test_hostile_hashtags_and_channels_files_are_reported_never_raised(hashtags: bytes, channels: str) -> None:
    with campaign({"hashtags.yml": hashtags, "channels.yml": f"channels: {channels}\n"}) as root:
        check_properties(root, keeps_valid_posts=False)


@settings(FUZZ, max_examples=100 * SCALE)
@given(raw=raw_files | post_files().map(str.encode))
def test_validate_json_lists_every_problem_and_exits_0_or_1(raw: bytes) -> None:
    with campaign({FUZZED: raw}) as root:
        result = CliRunner().invoke(main, ["--root", str(root), "validate", "--format", "json"])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code in (0, 1)
        records = json.loads(result.stdout)
        expected = [(p.path, p.line, p.severity.value, p.message) for p in build(root).problems]
        assert [(r["path"], r["line"], r["severity"], r["message"]) for r in records] == expected
        assert result.exit_code == (1 if any(r["severity"] == "error" for r in records) else 0)


# ------------------------------------------------------------------------------ all at once


def every_hostile_post() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {}
    for index, value in enumerate(YAML_HOSTILE):
        files[f"posts/hostile/yaml-{index:02d}.md"] = (
            f"---\npublish_at: 2027-11-20 10:00\ncard: {indented(value)}\n---\nx\n"
        )
    for index, body in enumerate(JINJA_HOSTILE):
        files[f"posts/hostile/jinja-{index:02d}.md"] = (
            f"---\npublish_at: 2027-11-21 10:{index:02d}\n---\nRegel\n{body}\n"
        )
    for index, media in enumerate(MEDIA_PATHS):
        media_list = json.dumps([{"path": media, "alt": "Foto"}])
        files[f"posts/hostile/media-{index:02d}.md"] = (
            f"---\npublish_at: 2027-11-22 10:00\nmedia: {media_list}\n---\nx{index}\n"
        )
    for index, piece in enumerate(RAW_PIECES):
        files[f"posts/hostile/raw-{index:02d}.md"] = b"---\n" + piece + b"\n---\n" + piece
    return files


def test_every_hostile_post_at_once_leaves_the_valid_posts_planned_and_each_is_reported() -> None:
    files = every_hostile_post()
    with campaign(files) as root:
        plan = check_properties(root)
    reported = {p.path for p in plan.problems}
    planned = {e.draft.path for e in plan.entries}
    silent = [path for path in files if path not in reported and path not in planned]
    assert not silent, silent  # a hostile post is either planned (harmless) or has a problem


def test_the_cli_prints_one_line_per_problem_and_json_even_with_strict_stdout_encoding() -> None:
    with campaign(every_hostile_post()) as root:
        (Path(os.fsdecode(os.fsencode(root / "posts") + b"/bad\xffname.md"))).write_text("x")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
            argv = [sys.executable, "-m", "scheduler", "--root", str(root), *args]
            return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)

        text, as_json, preview = (
            run("validate"),
            run("validate", "--format", "json"),
            run("preview", "--format", "json"),
        )
    for result in (text, as_json, preview):
        assert "Traceback" not in result.stderr, result.stderr
    assert text.returncode == as_json.returncode == 1 and preview.returncode == 0
    lines = text.stdout.splitlines()
    assert lines and all(re.match(r"^[^\n]+:\d+: (error|warning): ", line) for line in lines), lines
    assert len(json.loads(as_json.stdout)) == len(lines)
    assert {r["post"] for r in json.loads(preview.stdout)["sends"]} >= VALID_IDS


# ------------------------------------------------------------------------------ regressions


def problems_of(files: Mapping[str, str | bytes]) -> list[str]:
    with campaign(files) as root:
        return [str(p) for p in check_properties(root, keeps_valid_posts=False).problems]


def post(front: str, body: str = "Tekst.") -> str:
    return f"---\npublish_at: 2027-11-20 10:00\n{front}---\n{body}\n"


def assert_reported(files: Mapping[str, str | bytes], expected: str) -> None:
    found = problems_of(files)
    assert any(p.startswith(expected) for p in found), "\n".join(found)


# YAML


@pytest.mark.parametrize(
    "value", ["!!python/object/apply:os.system ['echo hi']", "!!python/name:os.system", "!!binary aGk="]
)
def test_python_object_and_binary_tags_are_refused_with_their_line(value: str) -> None:
    assert_reported(
        {FUZZED: post(f"title: x\ncard: {value}\n")},
        f"{FUZZED}:4: error: this YAML tag is not allowed (only plain data is)",
    )


def test_an_alias_is_refused_on_the_line_of_the_alias_not_of_its_anchor() -> None:
    assert_reported(
        {FUZZED: post("title: &t Titel\nlanguage: nl\ncard: {title: *t}\n")},
        f"{FUZZED}:5: error: aliases (*name) are not allowed here",
    )


def test_the_billion_laughs_are_refused_at_the_first_alias() -> None:
    laughs = "vars:\n  a: &a [x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    laughs += "  c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    assert_reported({FUZZED: post(laughs)}, f"{FUZZED}:5: error: aliases (*name) are not allowed here")


def test_deep_flow_nesting_is_an_error_on_its_line_not_a_segfault() -> None:
    # 100,000 levels crashed libyaml's recursive composer (SIGSEGV); run it in a child to be safe.
    code = (
        "import sys; from pathlib import Path; from tests.unit.test_fuzz_drafts import campaign, post, FUZZED\n"
        "from scheduler.content.plan import build\n"
        "with campaign({FUZZED: post('title: x\\nvars: ' + '[' * 100_000 + ']' * 100_000 + '\\n')}) as root:\n"
        "    print(*build(root).problems, sep='\\n')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert f"{FUZZED}:4: error: nested more than 100 levels deep" in result.stdout


def test_deep_block_nesting_is_an_error_on_the_line_where_it_gets_too_deep() -> None:
    nested = "vars:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(150)) + "  " * 151 + "end: 1\n"
    assert_reported({FUZZED: post(nested)}, f"{FUZZED}:103: error: nested more than 100 levels deep")


def test_a_duplicate_key_is_an_error_on_the_second_key() -> None:
    assert_reported({FUZZED: post("title: a\nlanguage: nl\ntitle: b\n")}, f"{FUZZED}:5: error: duplicate key 'title'")


@pytest.mark.parametrize(
    ("path", "text", "line"),
    [
        (FUZZED, post("max_late: " + "9" * 5000 + "\n"), 3),
        ("posts/_defaults.yml", "channels: [mastodon]\nvars: {n: " + "9" * 5000 + "}\n", 2),
        ("posts/fuzz/_defaults.yml", "vars: {n: -" + "1" * 4400 + "}\n", 1),
        ("hashtags.yml", "limits: {x: " + "9" * 5000 + "}\n", 1),
    ],
)
def test_an_integer_too_long_to_read_is_an_error_with_its_line(path: str, text: str, line: int) -> None:
    assert_reported({path: text}, f"{path}:{line}: error: this number is too long")


@pytest.mark.parametrize(
    ("front", "line", "message"),
    [
        ("? [a, b]\n: 1\n", 3, "a key must be a plain value"),
        ("? {a: 1}\n: 1\n", 3, "a key must be a plain value"),
        ("title: x\n\tlanguage: nl\n", 4, "tabs cannot indent YAML; use spaces"),
        ("<<: {title: x}\n", 3, "unknown key '<<'"),
    ],
)
def test_keys_that_are_not_plain_values_and_tabs_are_errors_with_their_line(
    front: str, line: int, message: str
) -> None:
    assert_reported({FUZZED: post(front)}, f"{FUZZED}:{line}: error: {message}")


def test_unicode_line_separators_in_a_value_do_not_shift_the_lines_of_later_keys() -> None:
    text = post('title: "een\u2028twee\u2029drie\x85vier"\nlanguage: nl\nlanguage: en\n')
    assert_reported({FUZZED: text}, f"{FUZZED}:5: error: duplicate key 'language'")


# front matter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\ntitle: x\npublish_at: 2027-11-20 10:00\nTekst\n", ":1: error: front matter starts with --- but has no"),
        ("---\n", ":1: error: front matter starts with --- but has no closing --- line"),
        ("---\n---\n", ":3: error: the post has no text"),
        ("", ":1: error: the post has no text"),
        ("---\n- a\n- b\n---\nTekst\n", ":2: error: front matter must be keys and values"),
        ("---\njust words\n---\nTekst\n", ":2: error: front matter must be keys and values"),
        ("---\n[unclosed\n---\nTekst\n", ":3: error:"),
    ],
)
def test_front_matter_edge_cases_are_errors_with_a_line(text: str, expected: str) -> None:
    assert_reported({FUZZED: text}, FUZZED + expected)


# wrong types


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("publish_at: 12\n", "publish_at: publish_at must be a date and time such as 2027-11-15 09:00"),
        ("publish_at: .nan\n", "publish_at: publish_at must be a date and time"),
        ("channels: mastodon\n", "channels must be a list of channel names from channels.yml"),
        ("channels: [[mastodon]]\n", "channels must be a list of channel names from channels.yml"),
        ("media: {path: x}\n", "media must be a list of {path, alt}"),
        ("media: [x]\n", "each media item needs a path (and alt text)"),
        ("hashtags: [1, 2]\n", "hashtags must be a list of hashtags or set names"),
        ("overrides: [mastodon]\n", "overrides must map a channel name or type to {body, hashtags}"),
        ("overrides: {mastodon: [x]}\n", "overrides.mastodon takes body and/or hashtags"),
        ("overrides: {mastodon: {body: 5}}\n", "overrides.mastodon.body must be text"),
        ("title: [x]\n", "title must be text"),
        ("draft: 'yes'\n", "draft must be true or false"),
        ("vars: [1]\n", "vars must be a mapping of names to values"),
        ("card: [1]\n", "card takes title and description"),
        ("language: 12\n", "language must be text"),
        ("id: '../x'\n", "id must be letters, digits"),
        ("max_late: soon\n", "max_late must be a duration"),
        ("max_late: 99999999999 weeks\n", "max_late: 99999999999 weeks is too long"),
        ("schedule: {start: x}\n", "'schedule' cannot be set here (only in a _defaults.yml)"),
    ],
)
def test_a_wrong_type_for_a_known_key_is_an_error_on_its_line(front: str, message: str) -> None:
    text = f"---\ntitle: x\n{front}---\nTekst.\n" if front.startswith("publish_at") else post(front)
    assert_reported({FUZZED: text}, f"{FUZZED}:3: error: {message}")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("[1, 2]", "schedule: schedule must be a mapping with start + every, start + rrule, or spread"),
        ("{start: 2027-11-20 10:00}", "schedule: schedule needs start + every, start + rrule, or spread"),
        ("{start: 2027-11-20 10:00, every: 1 day, until: nope}", "schedule: until: 'nope' is not a date"),
        ("{start: 2027-11-20 10:00, every: 1 day, until: [1]}", "schedule: until: [1] is not a date"),
        ("{start: 2027-11-20 10:00, every: 99999999999 days}", "schedule: every: '99999999999 days' is not an"),
        ("{start: 2027-11-20 10:00, every: 999999999 days}", "schedule: the series runs past the year 9999"),
        ("{start: 9999-12-31 10:00, every: 1 day}", "schedule: the series runs past the year 9999"),
        ("{start: 0001-01-01 00:00, every: 1 day}", "schedule: the series runs past the year 9999"),
        ("{start: 2027-11-20 10:00, every: 1 day, count: 0}", "schedule: count must be a whole number ≥ 1"),
        ("{start: 2027-11-20 10:00, rrule: 'FREQ=NEVER'}", "schedule: rrule 'FREQ=NEVER' is not a valid RFC 5545"),
        ("{spread: {from: 2027-11-20, to: 2027-11-21, at: '25:00'}}", "schedule: spread: hour must be in 0..23"),
        ("{spread: [1]}", "schedule: spread needs from, to and at"),
        ("{1: 2}", "schedule: unknown schedule key(s) 1"),
    ],
)
def test_a_hostile_series_schedule_is_an_error_on_its_line(schedule: str, message: str) -> None:
    files = {
        FUZZ_DEFAULTS: f"hashtags: []\nschedule: {schedule}\n",
        "posts/fuzz/02.md": "Twee.",
        "posts/fuzz/03.md": "Drie.",
    }
    assert_reported(files, f"{FUZZ_DEFAULTS}:2: error: {message}")


# times


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("2027-03-28 02:30", "publish_at: 2027-03-28 02:30 does not exist in Europe/Amsterdam (clocks go forward)"),
        ("2027-10-31 02:30", "publish_at: 2027-10-31 02:30 happens twice in Europe/Amsterdam (clocks go back)"),
        ("'9999-12-31T23:59+00:00'", "publish_at: 9999-12-31 23:59+00:00 is too close to the year 1 or 9999"),
        ("'0001-01-01 00:00'", "publish_at: 0001-01-01 00:00 is too close to the year 1 or 9999"),
        (
            "2027-02-30 10:00",
            "publish_at: '2027-02-30 10:00' is not on the calendar: February has 28 days in 2027, not 30",
        ),
    ],
)
def test_nonexistent_ambiguous_and_out_of_range_local_times_are_errors(when: str, message: str) -> None:
    text = f"---\npublish_at: {when}\n---\nTekst.\n"
    assert_reported({FUZZED: text}, f"{FUZZED}:2: error: {message}")


def test_an_ambiguous_time_with_an_offset_is_planned() -> None:
    with campaign({FUZZED: "---\npublish_at: '2027-10-31T02:30+01:00'\n---\nTekst.\n"}) as root:
        plan = check_properties(root)
    assert not plan.problems
    assert {e.due.isoformat() for e in plan.entries if e.draft.id == "m-fuzzed"} == {"2027-10-31T01:30:00+00:00"}


# Jinja


def test_the_sandbox_violation_is_reported_on_the_body_line() -> None:
    assert_reported(
        {FUZZED: post("", "Regel een\n{{ ''.__class__.__mro__ }}")},
        f"{FUZZED}:5: error: template uses something the sandbox forbids: '__class__'",
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("{% for i in range(10**9) %}x{% endfor %}", "range() may give at most 1000 numbers in a post"),
        ("{% for i in range(10**100) %}x{% endfor %}", "range() may give at most 1000 numbers in a post"),
        ("{{ 'a' * 10**9 }}", "* would make 1,000,000,000 characters or items"),
        ("{{ [1] * 10**9 }}", "* would make 1,000,000,000 characters or items"),
        ("{{ 10 ** (10 ** 10) }}", "** would make a number of about 10,000,000,000 digits"),
        ("{{ 'x' | center(10**9) }}", "center would make 1,000,000,000 characters or items"),
        ("{{ 'x'.ljust(10**9) }}", "ljust would make 1,000,000,000 characters or items"),
        ("{{ '%999999999d' % 1 }}", "% would make 999,999,999 characters or items"),
        ("{{ '%999999999d' | format(1) }}", "format would make 999,999,999 characters or items"),
        ("{{ '{:999999999}'.format(1) }}", "format would make 999,999,999 characters or items"),
        ("{{ range(10) | slice(10**9) | list }}", "slice would make 1,000,000,000 characters or items"),
        ("{{ range(10) | batch(10**9, 'x') | list }}", "batch would make 1,000,000,000 characters or items"),
        ("{{ ('a\t' * 50000).expandtabs(99999) }}", "expandtabs would make 5,000,049,999 characters or items"),
        ("{{ ('a\\n' * 50000) | indent(' ' * 99999) }}", "indent would make 5,000,049,999 characters or items"),
    ],
)
def test_huge_loops_strings_and_numbers_are_refused_quickly_on_their_line(expression: str, message: str) -> None:
    started = time.perf_counter()
    assert_reported({FUZZED: post("", f"Regel een\n{expression}")}, f"{FUZZED}:5: error: template: {message}")
    assert time.perf_counter() - started < 2  # two builds (check_properties builds twice)


def test_huge_output_is_an_error_on_the_first_body_line() -> None:
    loop = "{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}"
    assert_reported(
        {FUZZED: post("", f"Regel een\n{loop}")},
        f"{FUZZED}:4: error: the template produces more than 100,000 characters",
    )


def test_recursion_through_a_macro_is_an_error_on_its_line() -> None:
    macro = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}"
    assert_reported(
        {FUZZED: post("", f"Regel een\n{macro}")}, f"{FUZZED}:5: error: template: it calls itself without end"
    )


LOOPS_IN_LOOPS = (  # 10**12 steps: without a budget, validate, preview and the daemon's plans never end
    "{% for i in range(1000) %}\n{% for j in range(1000) %}\n{% for k in range(1000) %}\n"
    "{% for l in range(1000) %}{% endfor %}\n{% endfor %}{% endfor %}{% endfor %}"
)
TOO_LONG = "this template runs too long: "
END = "{% endfor %}"


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (LOOPS_IN_LOOPS, 8, TOO_LONG),  # the innermost loop's line
        ("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}" + END * 3, 5, TOO_LONG),
        ("{% for x in [1] recursive %}\n{{ loop(range(1000)) if loop.depth < 5 }}{% endfor %}", 5, TOO_LONG),
        ("{% macro m(n) %}\n{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}\n{{ m(40) }}", 6, TOO_LONG),
        # each turn is slow (a list of 100,000 items): the clock stops it long before the step count would
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{{ ('x' * 99999) | list | length }}" + END * 2,
            5,
            TOO_LONG,
        ),
        ("{% set s = 'x' * 99999 %}{% set b %}{% for i in range(1000) %}{{ s }}{% endfor %}{% endset %}", 5, TOO_LONG),
        (
            "{% set n = namespace(s='x') %}{% for i in range(60) %}{% set n.s = n.s ~ n.s %}" + END,
            5,
            "template: ~ would",
        ),
        (
            "{% set n = namespace(s='x') %}{% for i in range(60) %}{% set n.s = n.s + n.s %}" + END,
            5,
            "template: + would",
        ),
        ("{% set l = [1] %}{% for i in range(60) %}{{ l.extend(l) }}{% endfor %}", 5, "template: extend would"),
        ("{{ ('x' * 99999) | replace('x', 'x' * 99999) }}", 5, "template: replace would make 9,999,800,001"),
        ("{{ ('x' * 99999).replace('x', 'x' * 99999) }}", 5, "template: replace would make 9,999,800,001"),
        ("{{ (['x' * 99999] * 1000) | join }}", 5, "template: join would make 199,998 characters"),
        ("{{ ''.join(['x' * 99999] * 1000) }}", 5, "template: join would make 199,998 characters"),
        ("{{ ([[1] * 99999] * 1000) | sum(start=[]) }}", 5, "template: sum would make 199,998 characters"),
    ],
)
def test_a_template_that_would_run_for_hours_or_fill_the_memory_is_an_error_on_its_line(
    body: str, line: int, message: str
) -> None:
    assert_reported({FUZZED: post("", f"Regel een\n{body}")}, f"{FUZZED}:{line}: error: {message}")


def test_a_long_loop_within_the_budget_still_renders() -> None:
    # 11,000 loop turns and 10,000 multiplications: steps of the budget, well within it
    body = "{% for i in range(1000) %}{% for j in range(10) %}{% if i * j == 8991 %}{{ i }}{% endif %}{% endfor %}"
    with campaign({FUZZED: post("", f"Regel een\n{body}{{% endfor %}}")}) as root:
        plan = check_properties(root)
    assert not [p for p in plan.problems if p.path == FUZZED]
    texts = {e.post.text.split("\n")[1] for e in plan.entries if e.draft.id == "m-fuzzed" and e.post is not None}
    assert texts == {"999"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{{ onbekend }}", "template: unknown name 'onbekend'; a post can use post, campaign, channel, date"),
        ("{{ vars.helplin }}", "template: vars has no 'helplin'; did you mean 'helpline'?"),
        ("{{ post.titel }}", "template: post has no 'titel'; did you mean 'title'?"),
        ("{{ foo( }}", "template syntax error: "),  # Jinja's own detail follows
        ("{% include 'x' %}", "a post cannot include, extend or import other templates"),
        ("{% extends 'x' %}", "a post cannot include, extend or import other templates"),
        ("{% import 'x' as y %}", "a post cannot include, extend or import other templates"),
        ("{% extends %}", "template syntax error: "),
        ("{{ date | date(1, 2, 3, 4) }}", "template: "),  # Python's own detail follows
        ("{{ 'x' | nosuch }}", "unknown filter 'nosuch'"),
        ("{{ 'x' | uper }}", "unknown filter 'uper'; did you mean 'upper'?"),
        ("{% if 1 is nosuch %}x{% endif %}", "unknown test 'nosuch'"),
        ("{{ date | date('x', locale='zz_ZZ') }}", "template: unknown language 'zz_ZZ'"),
        ("{{ lipsum(10**6) }}", "template: unknown name 'lipsum'"),
        ("{{ 10**5000 }}", "template: ** would make a number of about 5,000 digits"),
        ("{{ '\\ud800' }}", "the text contains a lone surrogate"),
    ],
)
def test_template_errors_are_reported_on_their_line(body: str, message: str) -> None:
    line = 4 if "surrogate" in message else 5
    assert_reported({FUZZED: post("", f"Regel een\n{body}")}, f"{FUZZED}:{line}: error: {message}")


@pytest.mark.parametrize(
    "body",
    [
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
        "{{" * 3000,
        "{" * 3000,
        "{% if 1 %}" * 300 + "x" + "{% endif %}" * 300,
        "{{ " + "a." * 3000 + "b }}",
        "{{ " + "-" * 5000 + "1 }}",
    ],
)
def test_a_template_nested_too_deeply_is_an_error_not_a_crash(body: str) -> None:
    assert_reported({FUZZED: post("", f"Regel een\n{body}")}, f"{FUZZED}:5: error: the template is nested too deeply")


def test_python_block_limits_in_a_template_are_an_error_not_a_crash() -> None:
    loops = "{% for a in [1] %}" * 25 + "x" + "{% endfor %}" * 25
    assert_reported({FUZZED: post("", f"Regel een\n{loops}")}, f"{FUZZED}:4: error: the template is nested too deeply")


def test_a_template_longer_than_the_output_limit_is_refused_before_compiling() -> None:
    assert_reported(
        {FUZZED: post("", "{{ 1 }}" + "x" * 200_000)},
        f"{FUZZED}:4: error: the template is 200,009 characters; at most 100,000",
    )


# overrides and media, where they were written


def test_an_override_body_error_is_reported_on_the_line_of_its_text() -> None:
    block = "overrides:\n  mastodon:\n    body: |\n      Regel een\n      {{ onbekend }}\n"
    inline = "overrides: {mastodon: {body: '{{ onbekend }}'}}\n"
    escaped = 'overrides: {mastodon: {body: "' + "\\n" * 50 + '{{ onbekend }}"}}\n'
    assert_reported({FUZZED: post(block)}, f"{FUZZED}:7: error: template: unknown name 'onbekend'")
    assert_reported({FUZZED: post(inline)}, f"{FUZZED}:3: error: template: unknown name 'onbekend'")
    assert_reported({FUZZED: post(escaped)}, f"{FUZZED}:3: error: template: unknown name 'onbekend'")


def test_overrides_and_media_from_a_defaults_file_are_reported_in_that_file() -> None:
    defaults = (
        "hashtags: []\noverrides: {mastodon: {body: '{{ onbekend }}'}}\nmedia: [{path: media/missing.png, alt: Foto}]\n"
    )
    found = problems_of({FUZZ_DEFAULTS: defaults})
    assert f"{FUZZ_DEFAULTS}:2: error: template: unknown name 'onbekend'" in "\n".join(found)
    assert any(p.startswith(f"{FUZZ_DEFAULTS}:3: error: media file media/missing.png does not exist") for p in found)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../x.png", "media path '../x.png' must not contain .."),
        ("/etc/passwd", "media path '/etc/passwd' must be relative to the campaign root"),
        ("C:\\x.png", "media path 'C:\\\\x.png' must be relative to the campaign root"),
        ("media", "media path 'media' is not a file"),
        ("media/missing.png", "media file media/missing.png does not exist"),
        ("media/outside.png", "media path 'media/outside.png' leads outside the campaign root"),
        ("media/loop.png", "media file media/loop.png does not exist"),
        (
            "a\x00b",
            "media file a\\x00b does not exist (a media path starts at the campaign's folder, as in media/a\\x00b)",
        ),
    ],
)
def test_hostile_media_paths_are_errors_on_their_line(path: str, message: str) -> None:
    text = post(f"media:\n  - path: {json.dumps(path)}\n    alt: Foto\n")
    with campaign({FUZZED: text}) as root:
        for relative, make in SPECIAL_FILES.items():
            make(root / relative)
        found = [str(p) for p in check_properties(root).problems]
    assert f"{FUZZED}:4: error: {message}" in found, found


# files


def test_links_that_dangle_loop_or_leave_the_campaign_are_reported_per_file() -> None:
    with campaign({}) as root:
        (root / "posts/dangling.md").symlink_to("nowhere.md")
        (root / "posts/loop.md").symlink_to("loop.md")
        (root / "posts/outside.md").symlink_to("/etc/hostname")
        found = [str(p) for p in check_properties(root).problems]
    assert "posts/dangling.md:0: error: cannot be read: it is a link to a file that does not exist" in found
    assert "posts/loop.md:0: error: cannot be read: it is a link that leads back to itself" in found
    assert "posts/outside.md:0: error: is a link to a file outside the campaign" in found


def test_settings_files_get_the_same_guards_as_posts_links_size_junk_and_folders() -> None:
    with campaign({"posts/sub/_defaults.yml": b"channels: [mastodon]\ntitle: caf\xe9\n"}) as root:
        (root / "hashtags.yml").write_text("sets:\n" + "  x: [a]\n" * 150_000)  # 1.2 MB
        (root / "channels.yml").unlink()
        (root / "channels.yml").symlink_to("/etc/hostname")
        (root / "posts" / "deep" / "_defaults.yml").mkdir(parents=True)  # a folder where a file belongs
        found = [str(p) for p in build(root).problems]
    assert "channels.yml:0: error: is a link to a file outside the campaign" in found
    assert "hashtags.yml:0: error: is over 1,000,000 bytes, the most a campaign file may be" in found
    assert "posts/sub/_defaults.yml:2: error: is not valid UTF-8 text" in found
    assert "posts/deep/_defaults.yml:0: error: is not a regular file" in found


def test_a_fifo_named_like_a_settings_file_is_refused_without_blocking() -> None:
    with campaign({}) as root:
        (root / "hashtags.yml").unlink(missing_ok=True)
        os.mkfifo(root / "hashtags.yml")  # opening it to read would wait for a writer forever
        found = [str(p) for p in build(root).problems]
    assert "hashtags.yml:0: error: is not a regular file" in found


def test_a_file_or_folder_name_that_is_not_utf8_is_reported_and_skipped() -> None:
    with campaign({}) as root:
        (Path(os.fsdecode(os.fsencode(root / "posts") + b"/bad\xffname.md"))).write_text("---\n---\nx\n")
        os.mkdir(os.fsencode(root / "posts") + b"/map\xfe")
        result = CliRunner().invoke(main, ["--root", str(root), "validate"])
    assert result.exit_code == 1, result.output
    assert "posts/bad\ufffdname.md:0: error: the name is not valid UTF-8; rename it" in result.stdout
    assert "posts/map\ufffd:0: error: the name is not valid UTF-8; rename it" in result.stdout


def test_a_line_break_in_a_file_name_or_message_stays_on_one_output_line() -> None:
    with campaign({"posts/a\nb.md": post("channels: 5\n")}) as root:
        found = [str(p) for p in check_properties(root).problems]
    assert "posts/a\\nb.md:3: error: channels must be a list of channel names from channels.yml" in found


@pytest.mark.parametrize(
    ("raw", "line", "message"),
    [
        (b"---\npublish_at: 2027-11-20 10:00\n---\nTekst \xff\n", 4, "is not valid UTF-8 text"),
        (b"---\npublish_at: 2027-11-20 10:00\n---\n\nTe\x00kst\n", 5, "contains a NUL character"),
        (b"---\r\npublish_at: 2027-11-20 10:00\r\n---\r\nTekst\r\n{{ nee }}\r\n", 5, "template: unknown name 'nee'"),
        (b"---\rpublish_at: 2027-11-20 10:00\r---\rTekst\r\r{{ nee }}\r", 6, "template: unknown name 'nee'"),
        (b"---\r\npublish_at: 2027-11-20 10:00\n---\rTekst\r\n\n{{ nee }}\n", 6, "template: unknown name 'nee'"),
    ],
)
def test_invalid_utf8_nul_and_mixed_line_ends_are_reported_on_the_right_line(
    raw: bytes, line: int, message: str
) -> None:
    assert_reported({FUZZED: raw}, f"{FUZZED}:{line}: error: {message}")


def test_a_byte_order_mark_is_accepted() -> None:
    with campaign({FUZZED: b"\xef\xbb\xbf---\npublish_at: 2027-11-20 10:00\n---\nMet BOM.\n"}) as root:
        plan = check_properties(root)
    assert not plan.problems and any(e.draft.id == "m-fuzzed" for e in plan.entries)


# configuration read alongside the posts


def test_a_time_zone_that_names_a_folder_is_an_error_not_a_crash() -> None:
    defaults = str(BASE["posts/_defaults.yml"]).replace("Europe/Amsterdam", "Europe")
    assert_reported(
        {"posts/_defaults.yml": defaults},
        "posts/_defaults.yml:2: error: unknown time zone 'Europe' (an IANA name such as Europe/Amsterdam)",
    )


@pytest.mark.parametrize("value", ["'5'", "[1]", "-5", "1.5"])
def test_a_dry_run_limit_that_is_not_a_positive_number_is_ignored_not_a_crash(value: str) -> None:
    channels = f"channels:\n  mastodon: {{type: dryrun, max_characters: {value}}}\n  bluesky: {{type: dryrun}}\n"
    with campaign({"channels.yml": channels}) as root:
        plan = check_properties(root, keeps_valid_posts=False)
    assert not plan.problems and all(e.limit is None for e in plan.entries)
