"""The dashboard's accounts: a small text file outside git, one account a line.

    anna:operator:$argon2id$v=19$m=65536,t=3,p=4$...

Read from `CAMPAIGN_USERS_FILE`, or (on platforms without a disk) from `CAMPAIGN_USERS` holding the
same lines. Passwords are kept only as argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory
profile); a password is never written, logged or shown. There is no default account.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from scheduler import settings
from scheduler.content.cache import Key, file_key
from scheduler.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("no such account: this hash only spends the time a real one would")
# Each check takes a core and 64 MiB: however many logins arrive at once, a process checks two at a
# time and the others wait their turn (the login throttle keeps each address's share small).
_checking = threading.BoundedSemaphore(2)


class Role(StrEnum):
    VIEWER = "viewer"  # sees everything the pages show
    OPERATOR = "operator"  # also pauses, resumes, retries and resolves


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str

    @property
    def may_act(self) -> bool:
        return self.role == Role.OPERATOR

    @property
    def fingerprint(self) -> str:
        """Kept in the session: a changed password or a removed account ends the sessions it had."""
        return hashlib.sha256(self.password_hash.encode("utf-8")).hexdigest()[:16]

    def line(self) -> str:
        return f"{self.name}:{self.role}:{self.password_hash}"


def parse(text: str, where: str) -> dict[str, User]:
    """The accounts in `text` (the file's content); a malformed line is a ConfigError naming its line."""
    found: dict[str, User] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        role, _, password_hash = rest.partition(":")
        if not NAME.match(name) or role not in {r.value for r in Role} or not password_hash.startswith("$argon2"):
            raise ConfigError(f"{where}:{number}: not a `name:role:argon2-hash` line (role: viewer or operator)")
        found[name] = User(name, Role(role), password_hash)
    return found


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise ConfigError(f"{name!r} is not a user name: letters, digits and . _ @ -, at most 64, no spaces")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password is too short: at least {MIN_PASSWORD} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class Users:
    """The accounts, read again whenever the file changes (so `users remove` takes effect at once)."""

    def __init__(self, path: Path | None, content: str | None = None) -> None:
        self.path = path
        self._content = content
        self._seen: Key | None = None
        self._users: dict[str, User] = {} if path else parse(content or "", "CAMPAIGN_USERS")

    @classmethod
    def from_env(cls) -> Users:
        """CAMPAIGN_USERS_FILE, else CAMPAIGN_USERS; a ConfigError in a person's words when neither is set."""
        given = settings.get("CAMPAIGN_USERS_FILE")
        if given:
            return cls(Path(given))
        content = settings.get("CAMPAIGN_USERS")
        if content:
            return cls(None, content)
        raise ConfigError(
            "no accounts: set CAMPAIGN_USERS_FILE to a file outside the repository "
            "(or CAMPAIGN_USERS to its content), then `campaign users add NAME --role operator`"
        )

    def all(self) -> dict[str, User]:
        if self.path is not None:
            # By inode as well: `save` renames a new file over the old, and a changed password
            # keeps the size; within one time-stamp tick, size and times alone would not see it.
            seen, _ = file_key(self.path)
            if seen is None:
                self._users, self._seen = {}, None
                return self._users
            if seen != self._seen:
                self._users = parse(self.path.read_text(encoding="utf-8"), str(self.path))
                self._seen = seen
        return dict(self._users)

    def get(self, name: str) -> User | None:
        return self.all().get(name)

    def verify(self, name: str, password: str) -> User | None:
        """The account if `password` is its password; None otherwise (taking as long either way)."""
        user = self.get(name)
        try:
            with _checking:
                _hasher.verify(user.password_hash if user else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def save(self, users: dict[str, User]) -> None:
        """Write the file whole (a temporary file renamed over it), readable by its owner only."""
        if self.path is None:
            raise ConfigError("CAMPAIGN_USERS_FILE is not set, so there is no file to change")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(u.line() + "\n" for u in sorted(users.values(), key=lambda u: u.name))
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".users-")
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
