"""`campaign import --dry-run` plans the campaign as it would be after the import, without writing
into it: the files are written into a throwaway copy of the campaign, which is planned and removed.

Never into the campaign itself, not even for a moment: a running daemon watches posts/ and would
plan (and could send) what it finds there. The copy is made of hard links where the file system
allows it (nothing is read or copied but the new files), else of copies.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scheduler.importers import writer

SKIPPED = (".git", ".venv", "venv", "node_modules", "__pycache__", "*.db", "*.db-*", "dryrun-outbox.jsonl")


@contextmanager
def campaign_with(root: Path, planned: Iterable[writer.Planned]) -> Iterator[Path]:
    """A copy of the campaign at `root` with the `planned` files written in it, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="campaign-import-") as scratch:
        copy = Path(scratch) / "campaign"
        shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(*SKIPPED), copy_function=_link)
        writer.write(copy, planned)
        yield copy


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)
