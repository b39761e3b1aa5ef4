"""Imported posts → files: a stable name from the date and title (`2027-11-15-aftrap.md`), front
matter written by the YAML library, never over an existing file.

A name that is taken gets `-2`, `-3`, ...; unless the file there already says exactly the same,
which is the same row imported before: it is left as it is and said so (importing a sheet twice
makes no second copy of its posts).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scheduler.content import yamlfile
from scheduler.importers.rows import ImportedPost

_SLUG_WORDS = 8
_SLUG_CHARS = 60


@dataclass(frozen=True)
class Planned:
    """What one row becomes: a file under the campaign root, and what it says."""

    row: int
    path: str  # relative to the campaign root
    content: str
    unchanged: bool  # the file is there already with exactly this content: nothing to write


def slug(text: str) -> str:
    """Lower-case ASCII words joined by '-': "Dag 1: één tip!" → "dag-1-een-tip"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").casefold()
    words = re.findall(r"[a-z0-9]+", plain)[:_SLUG_WORDS]
    joined = "-".join(words)[:_SLUG_CHARS].rstrip("-")
    return joined or "post"


def content(post: ImportedPost) -> str:
    front = yamlfile.dump(post.front)
    return f"---\n{front}---\n{post.text}\n"


def plan(root: Path, folder: str, posts: Iterable[ImportedPost]) -> list[Planned]:
    """Where each post goes in `folder` (relative to `root`), without writing anything."""
    planned: list[Planned] = []
    claimed: set[str] = set()
    for post in posts:
        text = content(post)
        stem = f"{post.day.isoformat()}-{slug(post.title or post.text)}"
        for number in range(1, 10_000):
            name = f"{folder}/{stem}{'' if number == 1 else f'-{number}'}.md"
            if name in claimed:
                continue
            target = root / name
            if target.exists() or target.is_symlink():
                if same(target, post):
                    planned.append(Planned(post.row, name, text, unchanged=True))
                    claimed.add(name)
                    break
                continue
            planned.append(Planned(post.row, name, text, unchanged=False))
            claimed.add(name)
            break
    return planned


def same(path: Path, post: ImportedPost) -> bool:
    """Whether the file at `path` says exactly what `post` would."""
    return path.is_file() and _reads(path) == content(post)


def _reads(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def write(root: Path, planned: Iterable[Planned]) -> tuple[list[Planned], list[Planned]]:
    """Write each planned file that is not there yet: (written, left alone because a file appeared
    there after `plan` looked)."""
    written, raced = [], []
    for item in planned:
        if item.unchanged:
            continue
        target = root / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with target.open("x", encoding="utf-8", newline="\n") as out:  # "x": never over a file
                out.write(item.content)
        except FileExistsError:
            raced.append(item)
            continue
        written.append(item)
    return written, raced
