"""Secret references and their redaction.

Configuration never holds a secret, only a reference: `${MASTODON_TOKEN}`. A reference is
resolved when publishing, from the environment, else from a file named after it in
`$CAMPAIGN_SECRETS_DIR` (default `/run/secrets`, where Docker and systemd put them). Every value
resolved here is remembered so that `redact()` can blank it out of logs, errors, previews and
database rows, whatever path the text took (a server echoing the Authorization header, say).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scheduler.errors import SecretMissing

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"
#: "auth" as in auth_token or authorization, but not `author` (a LinkedIn organization URN is public).
_SECRET_KEYS = re.compile(r"(token|secret|password|passwd|api_?key|auth(?!ors?(?:$|_))|credential)", re.I)

_lock = threading.Lock()
_known: set[str] = set()


def remember(value: str) -> None:
    """Treat `value` as a secret from now on: `redact()` will blank it out."""
    if len(value) >= 4:  # shorter values would blank out ordinary words
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """`text` with every known secret value replaced by ***."""
    if not _known or not text:
        return text
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def references(value: Any) -> list[str]:
    """The names referenced as ${NAME} anywhere in `value` (strings, lists, mappings)."""
    if isinstance(value, str):
        return REFERENCE.findall(value)
    if isinstance(value, Mapping):
        return [name for item in value.values() for name in references(item)]
    if isinstance(value, list | tuple):
        return [name for item in value for name in references(item)]
    return []


def looks_like_literal_secret(key: str, value: Any) -> bool:
    """True for a setting named like a secret whose value is written out instead of referenced."""
    return bool(isinstance(value, str) and value.strip() and _SECRET_KEYS.search(key) and not REFERENCE.search(value))


def secrets_dir() -> Path:
    return Path(os.environ.get("CAMPAIGN_SECRETS_DIR", "/run/secrets"))


def lookup(name: str, env: Mapping[str, str] | None = None) -> str:
    """The value of secret `name`; raises SecretMissing saying where it was looked for."""
    env = os.environ if env is None else env
    value = env.get(name)
    if value is None:
        path = secrets_dir() / name
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError:
            raise SecretMissing(f"secret {name} is not set: export {name}=... or write it to {path}") from None
    remember(value)
    return value


def reference_of(value: Any) -> str | None:
    """The secret's name when `value` is exactly one reference ("${NAME}"), else None."""
    found = REFERENCE.fullmatch(value.strip()) if isinstance(value, str) else None
    return found.group(1) if found else None


def writable(name: str, env: Mapping[str, str] | None = None) -> Path:
    """The file `store` would write secret `name` to; SecretMissing saying why there is none."""
    env = os.environ if env is None else env
    path = secrets_dir() / name
    if name in env:
        raise SecretMissing(
            f"secret {name} comes from the environment, which this command cannot change: set {name} to the new "
            f"token where the environment is configured, or unset it and keep the token in {path}"
        )
    if not path.is_file():
        raise SecretMissing(f"secret {name} is not set: there is no {path} to write the new token to")
    return path


def store(name: str, value: str, env: Mapping[str, str] | None = None) -> Path:
    """Replace secret `name` where `lookup` reads it from: its file in the secrets directory, written
    atomically (a temporary file beside it, flushed to disk, then renamed over it, with the old file's
    permissions) so a reader sees the old token or the new, never half of one. Its path.

    SecretMissing when the environment sets it (the environment wins over the file, and no program can
    change the environment it was started with) or when there is no file to replace."""
    path = writable(name, env)
    remember(value)
    mode = path.stat().st_mode & 0o777
    descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def resolve(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """`value` with every ${NAME} replaced by the secret's value (recursively); SecretMissing
    naming every secret that is not set, so that one round of fixing is enough."""
    missing: list[str] = []
    first: SecretMissing | None = None
    for name in dict.fromkeys(references(value)):
        try:
            lookup(name, env)
        except SecretMissing as exc:
            first = first or exc
            missing.append(name)
    if first is not None and len(missing) == 1:
        raise first
    if missing:
        raise SecretMissing(
            f"{len(missing)} secrets are not set: {', '.join(missing)}; export each (export {missing[0]}=...) "
            f"or write each to a file of its name in {secrets_dir()}"
        )
    return _substitute(value, env)


def _substitute(value: Any, env: Mapping[str, str] | None) -> Any:
    if isinstance(value, str):
        return REFERENCE.sub(lambda m: lookup(m.group(1), env), value)
    if isinstance(value, Mapping):
        return {key: _substitute(item, env) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(item, env) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that blanks secrets out of every record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
