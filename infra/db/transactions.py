"""Run one transaction's worth of synchronous SQLAlchemy Core from async code.

The store's hot path is written as plain functions of a `Connection` (one call, one
transaction), and a `Transactions` runs them:

- `AsyncTransactions` (PostgreSQL): `AsyncConnection.run_sync`, so each statement
  awaits psycopg's async I/O on the event loop.
- `SqliteWriter` (SQLite): one thread per process that owns one connection and runs
  every transaction whole. aiosqlite hops to its thread and back for every statement
  (a future, a self-pipe wake-up, a greenlet switch): profiled at ~20 hops and about
  a third of the per-document overhead. SQLite takes one writer per file anyway, so
  one writer thread per process loses no concurrency; other processes on the same
  file wait on the busy timeout as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.engine import make_engine

T = TypeVar("T")
Work = Callable[[Connection], T]


class Transactions(Protocol):
    async def run(self, work: Work[T]) -> T:
        """`work(conn)` in one transaction: committed if it returns, rolled back if it raises."""
        ...

    async def close(self) -> None: ...


class AsyncTransactions:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def run(self, work: Work[T]) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(work)

    async def close(self) -> None:
        """The engine belongs to the caller."""


class SqliteWriter:
    """Every transaction of this process on one thread and one connection."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: Connection | None = None

    def _in_thread(self, work: Work[T]) -> T:
        if self._conn is None:
            self._conn = self._engine.connect()
        conn = self._conn
        try:
            with conn.begin():
                return work(conn)
        except DBAPIError as exc:
            if exc.connection_invalidated or conn.invalidated:
                self._conn = None
                conn.close()
            raise

    async def run(self, work: Work[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_thread, work)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)


def open_transactions(url: str, *, engine: AsyncEngine, schema: str | None = None) -> Transactions:
    """A writer thread for a SQLite file, the async engine for everything else (an
    in-memory SQLite database exists only on the engine's own connection)."""
    u = make_url(url)
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        return SqliteWriter(make_engine(url, schema=schema))
    return AsyncTransactions(engine)
