"""A private PostgreSQL cluster for outage tests: initdb + pg_ctl on a free port.

Never the shared server on 5432: stopping that would break every other test and
session. The cluster lives in a temporary folder and is removed afterwards. As root
(CI), PostgreSQL refuses to run, so its commands run as the `postgres` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bindir() -> Path | None:
    # Debian keeps the server binaries out of PATH (PATH may hold only wrappers).
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if versions:
        return versions[0].parent
    found = shutil.which("initdb") and shutil.which("pg_ctl")
    return Path(found).parent if found else None


def unavailable_reason() -> str | None:
    if _bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to drop to the postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, root: Path) -> None:
        bindir = _bindir()
        assert bindir is not None, unavailable_reason()
        self.bindir = bindir
        self.data = root / "data"
        self.sock = root / "sock"
        self.log = root / "postgres.log"
        self.port = _free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, check=False, capture_output=True, timeout=120)
        if check and done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.decode()[-2000:]}\n{log}")
        return done

    def init(self) -> None:
        self.sock.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.sock, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start")

    def stop(self, *, mode: str = "immediate") -> None:
        """`immediate` is a crash as far as clients are concerned: connections drop."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError(f"private PostgreSQL on {self.port} not ready:\n{self.log.read_text()[-2000:]}")


@contextmanager
def private_cluster() -> Iterator[PgCluster]:
    root = Path(tempfile.mkdtemp(prefix="autoclerk-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        cluster = PgCluster(root)
        cluster.init()
        cluster.start()
        cluster.wait_ready()
        try:
            yield cluster
        finally:
            cluster.stop(mode="fast")
    finally:
        shutil.rmtree(root, ignore_errors=True)
