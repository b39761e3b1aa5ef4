"""How the checker reaches a site: only at a public address, at exactly the one it vetted, never past a deadline.

A post's author chooses the links, and so whom the checker asks and, through redirects, where it
goes next; what it found is shown to that author. So before each request (every hop: the checker
follows redirects itself) the host's name is resolved here, every address it has must be on the
public internet (not loopback, private, link-local, shared, multicast, reserved..., an IPv4 address
inside IPv6 included), and the connection goes to the address that was vetted, with the site's own
name in `Host` and in TLS (SNI and certificate): a name that answers differently a moment later
(DNS rebinding) cannot send the request inside. Names in `CAMPAIGN_LINKS_ALLOW_HOSTS` (tests: a
local server that stands for a public site) may have any address.

Through a proxy from the environment (`HTTPS_PROXY`, ...) the proxy connects: the name is still
vetted here, but the proxy resolves it again, so it should refuse inside addresses too.

A `Deadline` bounds the wait for the name's resolution, and cuts every connection of one URL's
check when its time is up (the sockets are shut down from a timer thread): a server that sends
one header line a second is cut off then, not after each line's own socket timeout. No body is
read (the status and headers tell all the check needs); http.client bounds the headers (100
lines of at most 64 KiB).

Written here rather than taken from a library: the one made for requests (advocate) has had no
release since 2020 and requires urllib3 < 2; the ones on PyPI now are new, one-person wrappers of
httpx, another HTTP client than the one this project uses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: an IPv4 address in its last 32 bits
_INSIDE = (  # the ranges a person would call "this network"; other non-public ones are just not public
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("fc00::/7"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("::1/128"),
)


class NotPublic(Exception):
    """The host has an address that is not on the public internet: nothing was sent to it."""

    def __init__(self, host: str, inside: bool) -> None:
        super().__init__(host)
        self.host, self.inside = host, inside

    def what(self) -> str:
        """What kind of address, in a person's words."""
        return "an address inside this network" if self.inside else "an address that is not on the public internet"


class Unresolved(Exception):
    """The host's name does not resolve."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.host = host


def embedded(address: Address) -> Address:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), else the address itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def public(address: Address) -> bool:
    """Whether `address` (and any IPv4 address inside it) is one on the public internet."""
    for one in {address, embedded(address)}:
        if not one.is_global or one.is_multicast or one.is_reserved or one.is_unspecified:
            return False
        if one.is_loopback or one.is_link_local or one.is_private:
            return False
        if isinstance(one, ipaddress.IPv6Address) and one.is_site_local:
            return False
    return True


class OutOfTime(Exception):
    """The deadline passed while the name was being resolved."""


# The system's resolver cannot be interrupted: it runs here, so that a check waits for it no longer
# than its deadline (a name server that never answers holds a thread of this pool, not a checker).
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="links-resolve")


def _resolve(host: str, port: int) -> list[Any]:
    deadline = _current.deadline
    if deadline is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return future.result(timeout=max(deadline.left(), 0.0))
    except FutureTimeout:
        future.cancel()
        raise OutOfTime from None


def vet(host: str, port: int, check: bool = True) -> str:
    """The address to connect to for `host` (the first the resolver prefers); NotPublic if any of its
    addresses is not public (unless not `check`), Unresolved if it has none, OutOfTime if the
    current deadline passed first."""
    try:
        found = _resolve(host, port)
    except (socket.gaierror, UnicodeError):
        raise Unresolved(host) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    if not addresses:
        raise Unresolved(host)
    for address in addresses if check else ():
        if not public(address):
            inner = embedded(address)
            raise NotPublic(host, any(inner in network for network in _INSIDE if network.version == inner.version))
    return str(addresses[0])


class Deadline:
    """One URL's time: when it passes, every connection made for it is shut down (its reads end)."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
        _current.deadline = None

    def left(self) -> float:
        return self.until - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            expired = self.expired
        if expired:
            _cut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in another thread; close() alone may not


class _Current(threading.local):
    deadline: Deadline | None = None


_current = _Current()


def _watched(sock: socket.socket | None) -> None:
    deadline = _current.deadline
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _Connection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watched(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self.sock)  # a connection kept alive from an earlier check
        super().request(*args, **kwargs)


class _SecureConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watched(sock)  # before the TLS handshake, which a slow server can drag out too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self.sock)
        super().request(*args, **kwargs)


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _SecurePool(HTTPSConnectionPool):
    ConnectionCls = _SecureConnection


class Adapter(HTTPAdapter):
    """requests' adapter that vets each request's host and connects to the vetted address."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed = frozenset(host.lower().rstrip(".") for host in allowed)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _SecurePool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _Pool, "https": _SecurePool}
        return manager

    def get_connection_with_tls_context(
        self,
        request: PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> ConnectionPool:
        parts = urlsplit(str(request.url))
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if select_proxy(str(request.url), dict(proxies or {})):
            if host not in self.allowed:
                vet(host, port)
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        address = vet(host, port, check=host not in self.allowed)
        host_params, key = self.build_connection_pool_key_attributes(request, True if verify is None else verify, cert)
        host_params["host"] = address
        pool_kwargs: dict[str, Any] = dict(key)
        if parts.scheme == "https":
            pool_kwargs["server_hostname"] = host  # SNI and the certificate's name: the site's, not the address
        request.headers["Host"] = parts.netloc.rpartition("@")[2]
        pool: ConnectionPool = self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)
        return pool
