"""A synthetic campaign for benchmarks: N posts on 4 channels, like a busy year.

    python bench/synthetic.py DIR [--posts 10000]

One post in five is a template (dates, vars); the rest are plain text. With `templates=True`
(`--templates`) every post is a template as a team writes them: its title on the first line, one to
three paragraphs, a line with the date somewhere among them and the helpline at the end, so posts
differ in where their expressions are. Posts sit in folders of 100, spread over a year; one folder
in ten is a daily series instead of fixed times.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta
from pathlib import Path

CHANNELS = """channels:
  mastodon: {type: dryrun, like: mastodon}
  bluesky: {type: dryrun, like: bluesky}
  x: {type: dryrun, like: x}
  telegram: {type: dryrun, like: telegram}
"""
HASHTAGS = """sets:
  week: ["#WeekTegenKindermishandeling", "#ikmaakhetverschil"]
default: [week]
limits: {bluesky: 3, x: 2}
lowercase_ok: [ikmaakhetverschil]
"""
WORDS = [
    "kind",
    "veilig",
    "thuis",
    "luisteren",
    "helpen",
    "verschil",
    "maken",
    "school",
    "buren",
    "zorgen",
    "signalen",
    "hulp",
    "vragen",
    "vertrouwen",
    "praten",
    "samen",
    "week",
    "verhaal",
    "ouders",
    "jeugd",
    "melding",
    "stilte",
    "doorbreken",
]


def generate(root: Path, posts: int = 10_000, seed: int = 1, *, templates: bool = False) -> Path:
    """Write the campaign under `root` and return it."""
    rng = random.Random(seed)
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "channels.yml").write_text(CHANNELS, encoding="utf-8")
    (root / "hashtags.yml").write_text(HASHTAGS, encoding="utf-8")
    (root / "posts" / "_defaults.yml").write_text(
        "campaign: Synthetic\ntimezone: Europe/Amsterdam\nlanguage: nl\n"
        "channels: [mastodon, bluesky, x, telegram]\nvars: {helpline: 0800-2000}\n",
        encoding="utf-8",
    )
    start = datetime(2027, 1, 1, 8, 0)
    for index in range(posts):
        folder = root / "posts" / f"f{index // 100:03d}"
        series = (index // 100) % 10 == 9
        if index % 100 == 0:
            folder.mkdir(exist_ok=True)
            if series:
                first = start + timedelta(days=index // 30)
                (folder / "_defaults.yml").write_text(
                    f"schedule:\n  start: {first:%Y-%m-%d} 07:{(index // 100) % 60:02d}\n  every: 1 day\n",
                    encoding="utf-8",
                )
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 22)))
        if templates:
            body = _template_body(rng)
        elif index % 5 == 0:
            body = f"{{{{ date | date('EEEE d MMMM') | capitalize }}}}: {words}.\n\nBel {{{{ vars.helpline }}}}."
        else:
            body = f"Bericht {index}: {words}.\n\nBel 0800-2000."
        moment = start + timedelta(minutes=53 * index)
        if moment.hour == 2:  # keep clear of the DST gap and fold: the benchmark wants a clean campaign
            moment += timedelta(hours=1)
        when = "" if series else f"publish_at: {moment:%Y-%m-%d %H:%M}\n"
        (folder / f"p{index:05d}.md").write_text(f"---\ntitle: Post {index}\n{when}---\n{body}\n", encoding="utf-8")
    return root


def _template_body(rng: random.Random) -> str:
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 5))) + "." for _ in range(rng.randint(1, 3))]
    dated = "{{ date | date('EEEE d MMMM') | capitalize }}: " + " ".join(rng.choice(WORDS) for _ in range(4))
    paragraphs.insert(rng.randint(0, len(paragraphs)), dated)
    return "\n\n".join(["{{ post.title }}", *paragraphs, "Bel {{ vars.helpline }}."])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--templates", action="store_true", help="every post a template")
    args = parser.parse_args()
    print(generate(args.dir, args.posts, templates=args.templates))
