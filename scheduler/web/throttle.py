"""Login attempts slowed down per (account, address) and per address, counted in the ledger.

Every attempt is counted before its password is checked (one atomic increment per key in the ledger,
shared by every `serve` process on it), so guesses sent at the same moment each count, and an
attempt over a limit costs no password check (argon2: a core and 64 MiB each). Past a limit, that
key waits until its window ends. A right password clears its (account, address) window and takes
back its attempt from the address's. Nothing counts per account alone: then anyone could lock the
operators out of the crisis switch; a right password from an address without failures always gets in.
IPv6 addresses count per /64 (one home or host has a whole /64 to rotate through).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta

from scheduler.publish.ledger import Ledger


class Throttle:
    def __init__(
        self,
        per_pair: int = 5,
        per_address: int = 20,
        window: float = 900.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.per_pair = per_pair  # failed logins of one account from one address
        self.per_address = per_address  # from one address, for any accounts (a few people behind one NAT)
        self.window = timedelta(seconds=window)
        self._clock = clock

    def attempt(self, ledger: Ledger, account: str, address: str) -> float:
        """Count a login attempt; the seconds it must wait (then its password is not to be checked), or 0."""
        now = self._clock() if self._clock else ledger.clock()
        keys = _keys(account, address)
        counted = ledger.logins.count_login_attempt(keys, now, self.window)
        wait = 0.0
        for (count, started), allowed in zip(counted, (self.per_pair, self.per_address), strict=True):
            if count > allowed:
                wait = max(wait, (started + self.window - now).total_seconds(), 1.0)
        return wait

    def succeeded(self, ledger: Ledger, account: str, address: str) -> None:
        pair, by_address = _keys(account, address)
        ledger.logins.forgive_login_attempt([pair], [by_address])


def _keys(account: str, address: str) -> list[str]:
    where = _network(address)
    return [f"pair:{account.lower()}|{where}", f"address:{where}"]


def _network(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:200]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
