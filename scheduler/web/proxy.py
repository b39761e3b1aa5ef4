"""Which peer may tell the dashboard, in X-Forwarded-For/-Proto/-Host, who the client is and that it came
over HTTPS: the proxies named by `--trust-proxy` / CAMPAIGN_TRUST_PROXY, and nobody else.

Werkzeug's ProxyFix reads the headers (the last value of each: what the one proxy in front added), and
only for a request whose peer is one of those proxies; from any other peer the headers are removed
before the app sees them. waitress is told to leave them alone (its own handling trusts one address or
every address, with no networks), so one piece of code decides, under any WSGI server.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.middleware.proxy_fix import ProxyFix

from scheduler.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
YES, NO = ("1", "true", "yes", "loopback"), ("", "0", "false", "no")
FORWARDED = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
)


def trusted_networks(value: str) -> tuple[Network, ...]:
    """The proxies `value` names: "1" (or "loopback"): this host; else addresses and networks
    (10.0.0.0/8), separated by commas; "" or "0": none. A ConfigError names a part that is neither."""
    value = value.strip()
    if value.lower() in NO:
        return ()
    if value.lower() in YES:
        return LOOPBACK
    found: list[Network] = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"trusted proxy {part!r} is not an address or a network (like 10.0.0.0/8): give the address of "
                "the proxy in front of `campaign serve`, or 1 for a proxy on this host"
            ) from None
    return tuple(found)


def describe(networks: Iterable[Network]) -> str:
    return ", ".join(str(n) for n in networks) or "nobody"


class ProxyGate:
    """The WSGI app behind it sees forwarded headers only from a trusted proxy, and then as ProxyFix
    applies them (client address, scheme, host); from any other peer it sees none."""

    def __init__(self, app: WSGIApplication, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)
        self.direct = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1)
        self._warned = False

    def trusts(self, peer: str | None) -> bool:
        if not peer or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR")
        if self.trusts(peer):
            return self.fixed(environ, start_response)
        present = [name for name in FORWARDED if name in environ]
        for name in present:
            del environ[name]
        if present and not self._warned:
            self._warned = True  # once: a proxy left out of the setting shows at once, and floods nothing
            log.warning(
                "forwarded headers from %s ignored: it is not a trusted proxy (trusted: %s). Behind a proxy, "
                "set CAMPAIGN_TRUST_PROXY (or --trust-proxy) to its address or network",
                peer,
                describe(self.networks),
            )
        return self.direct(environ, start_response)
