"""Imported posts → files: a stable name from the date and title (`2027-11-15-aftrap.md`), front
matter written by the YAML library (with the `id:` the name gives), never over an existing file;
and updates of existing post files (scheduler.importers.update), only over the file as it was read.

A name that is taken gets `-2`, `-3`, ...; unless the file there already says exactly the same,
which is the same row imported before: it is left as it is and said so (importing a sheet twice
makes no second copy of its posts).
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scheduler.content import yamlfile
from scheduler.content.campaign import POSTS_DIR
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
    before: str | None = None  # an update of a post file: what the file said when it was read
    changed: tuple[str, ...] = ()  # an update: what the row changes, in words (text, time, ...)
    note: str | None = None  # an update: what a person should know (published already, no version)


def slug(text: str) -> str:
    """Lower-case ASCII words joined by '-': "Dag 1: één tip!" → "dag-1-een-tip"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").casefold()
    words = re.findall(r"[a-z0-9]+", plain)[:_SLUG_WORDS]
    joined = "-".join(words)[:_SLUG_CHARS].rstrip("-")
    return joined or "post"


def content(post: ImportedPost, post_id: str | None = None) -> str:
    """The file of `post`; with `post_id` (the id its file name gives) written as its `id:` when the
    row gave none, so the post keeps its identity when the file is renamed or moved."""
    front = post.front if post_id is None or "id" in post.front else {"id": post_id, **post.front}
    return f"---\n{yamlfile.dump(front)}---\n{post.text}\n"


def plan(root: Path, folder: str, posts: Iterable[ImportedPost], taken: Collection[str] = ()) -> list[Planned]:
    """Where each post goes in `folder` (relative to `root`), without writing anything; `taken`:
    the ids of the campaign's posts, which a new file's id must not be."""
    planned: list[Planned] = []
    claimed: set[str] = set()
    for post in posts:
        stem = f"{post.day.isoformat()}-{slug(post.title or post.text)}"
        for number in range(1, 10_000):
            name = f"{folder}/{stem}{'' if number == 1 else f'-{number}'}.md"
            if name in claimed:
                continue
            named = str(PurePosixPath(name).relative_to(POSTS_DIR).with_suffix(""))
            text = content(post, named)
            target = root / name
            if target.exists() or target.is_symlink():
                if same(target, post, named):
                    planned.append(Planned(post.row, name, text, unchanged=True))
                    claimed.add(name)
                    break
                continue
            if "id" not in post.front and named in taken:  # another file has this id: take the next name
                continue
            planned.append(Planned(post.row, name, text, unchanged=False))
            claimed.add(name)
            break
    return planned


def same(path: Path, post: ImportedPost, post_id: str | None = None) -> bool:
    """Whether the file at `path` says exactly what `post` would (with or without the `id:` its name
    gives: files imported before ids were written have none)."""
    return path.is_file() and _reads(path) in (content(post), content(post, post_id))


def _reads(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def write(root: Path, planned: Iterable[Planned]) -> tuple[list[Planned], list[Planned]]:
    """Write each planned file that is not there yet: (written, left alone because a file appeared
    there after `plan` looked)."""
    written: list[Planned] = []
    raced: list[Planned] = []
    for item in planned:
        if item.unchanged:
            continue
        target = root / item.path
        if item.before is not None:
            (written if _replace(target, item) else raced).append(item)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with target.open("x", encoding="utf-8", newline="\n") as out:  # "x": never over a file
                out.write(item.content)
        except FileExistsError:
            raced.append(item)
            continue
        written.append(item)
    return written, raced


def _replace(target: Path, item: Planned) -> bool:
    """Update a post file, only if it still says what it said when read; by a new file renamed over
    it, so a reader (the daemon) sees the old file or the new one, never half of one, and a file
    hard-linked elsewhere (scheduler.importers.trial's copy) is not changed there."""
    if _reads(target) != item.before:
        return False
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(item.content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
