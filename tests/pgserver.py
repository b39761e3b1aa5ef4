"""A throwaway PostgreSQL cluster on 127.0.0.1, for the integration tests and the benchmarks.

    with postgres() as url:   # postgresql://postgres@127.0.0.1:PORT/postgres (trust auth)
        ...
    with cluster() as server: # server.url; server.stop() and server.start() for outage tests
        ...

As root, initdb and pg_ctl run as the `postgres` user (initdb refuses root) in a 0755 temporary
directory owned by it. The cluster is stopped (immediate) and its directory removed on exit.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class PostgresMissing(RuntimeError):
    """pg_ctl is neither on PATH nor under /usr/lib/postgresql/*/bin."""


def pg_bin() -> Path | None:
    """The directory of the PostgreSQL server binaries, newest version first; None if not installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(candidates[-1]).parent if candidates else None


def _version(path: str) -> tuple[int, ...]:
    part = Path(path).parts[-3]  # /usr/lib/postgresql/<version>/bin/pg_ctl
    return tuple(int(p) for p in part.split(".") if p.isdigit())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster of our own: its admin `url`; `stop()` and `start()` it again (outage tests)."""

    url: str
    data: Path
    options: str
    run_as: list[str]
    bindir: Path

    def pg_ctl(self, *args: str) -> None:
        command = [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.pg_ctl("-o", self.options, "-w", "-l", str(self.data.parent / "log"), "start")

    def stop(self) -> None:
        """Stop at once (immediate: connections are cut, as when a managed database fails over)."""
        self.pg_ctl("-m", "immediate", "-w", "stop")


@contextmanager
def cluster(*, fsync: bool = False, max_connections: int = 200) -> Iterator[Cluster]:
    """Start a cluster of our own; yield it. `fsync=False` (tests) trades durability for speed."""
    bindir = pg_bin()
    if bindir is None:
        raise PostgresMissing("PostgreSQL is not installed (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="campaign-pg-"))
    os.chmod(base, 0o755)
    data, port = base / "data", free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
    try:
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'} "
            f"-c max_connections={max_connections}"
        )
        server = Cluster(f"postgresql://postgres@127.0.0.1:{port}/postgres", data, options, run_as, bindir)
        server.start()
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def postgres(*, fsync: bool = False, max_connections: int = 200) -> Iterator[str]:
    """Start a cluster of our own; yield its admin URL. `fsync=False` (tests) trades durability for speed."""
    with cluster(fsync=fsync, max_connections=max_connections) as server:
        yield server.url


def create_database(admin_url: str, name: str) -> str:
    """CREATE DATABASE `name` on the server of `admin_url`; its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
