"""The watch list: words and phrases in a reply that a person must see at once (watchlist.yml).

    # watchlist.yml in the campaign root
    phrases:
      - help
      - ik word*          # a trailing * also matches longer words: ik word geslagen
      - thuis slaat
    helplines: Veilig Thuis 0800-2000, De Kindertelefoon 0800-0432

A phrase matches whole words, whatever their case, accents or the spaces between them. A file of
its own, not a key of channels.yml: the people who keep it (the care team) are not those who keep
the accounts, and it holds no secrets.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml

from scheduler.errors import ConfigError

FILE = "watchlist.yml"


class WatchList:
    """The phrases to watch for, and the helplines an alert reminds of."""

    def __init__(self, phrases: tuple[str, ...] = (), helplines: str = "") -> None:
        self.phrases = tuple(p for p in phrases if p.strip())
        self.helplines = helplines
        self._patterns = tuple((p, _pattern(p)) for p in self.phrases)

    def match(self, text: str) -> str | None:
        """The first phrase that `text` contains, or None."""
        plain = _fold(text)
        for phrase, pattern in self._patterns:
            if pattern.search(plain):
                return phrase
        return None


def load(root: Path) -> WatchList:
    """The campaign's watch list; empty when it has no watchlist.yml; ConfigError if it is broken."""
    path = root / FILE
    if not path.is_file():
        return WatchList()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{FILE}: cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f":{line + 1}" if line is not None else ""
        raise ConfigError(f"{FILE}{where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{FILE}: must be a mapping with `phrases:` (a list)")
    unknown = sorted(set(data) - {"phrases", "helplines"})
    if unknown:
        raise ConfigError(f"{FILE}: unknown key {unknown[0]!r}; it takes phrases and helplines")
    phrases = data.get("phrases") or []
    if not isinstance(phrases, list) or not all(isinstance(p, str | int) for p in phrases):
        raise ConfigError(f"{FILE}: `phrases` must be a list of words and phrases")
    helplines = data.get("helplines") or ""
    if not isinstance(helplines, str):
        raise ConfigError(f"{FILE}: `helplines` must be text")
    return WatchList(tuple(str(p).strip() for p in phrases if str(p).strip()), helplines.strip())


def _fold(text: str) -> str:
    """Lower case without accents, so 'Héélp' and 'heelp' read alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _pattern(phrase: str) -> re.Pattern[str]:
    prefix = phrase.rstrip().endswith("*")
    words = _fold(phrase.rstrip().rstrip("*")).split()
    body = r"\s+".join(re.escape(word) for word in words)
    return re.compile(r"(?<!\w)" + body + (r"\w*" if prefix else r"(?!\w)"))
