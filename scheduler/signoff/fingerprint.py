"""What a person approves: one hash over every send of a post (its channel and its version, which is a
hash of the rendered text, each thread part, the media bytes and their alt texts), and who must approve."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

ANYONE = "*"  # the ledger's spelling of `signoff: team` (no name can be "*")


def fingerprint(sends: Iterable[tuple[str, str]]) -> str:
    """The fingerprint of a post from its sends' (channel, version): the same whatever their order."""
    lines = "".join(f"{channel}\t{version}\n" for channel, version in sorted(set(sends)))
    return hashlib.sha256(lines.encode()).hexdigest()


def encode_needs(names: Iterable[str], team: str = "team") -> str | None:
    """The ledger's column for a post's `signoff:` (None: it needs none)."""
    names = tuple(names)
    if not names:
        return None
    return ANYONE if names == (team,) else "\n".join(names)


def decode_needs(column: str | None) -> tuple[str, ...]:
    """The names a post needs approvals of; (ANYONE,) for `signoff: team`."""
    return () if not column else tuple(column.split("\n"))


def short(value: str) -> str:
    """A fingerprint as people see it (enough to tell two apart)."""
    return value[:12]
