"""LangGraph checkpointers on the same database as everything else.

Only documents waiting for a human keep a checkpoint that matters; the workflow
runs with `durability="exit"` so a straight-through document writes one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url


@asynccontextmanager
async def open_checkpointer(
    url: str, *, schema: str | None = None
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        path = u.database or ":memory:"
        async with aiosqlite.connect(path, timeout=30) as conn:
            await conn.execute("PRAGMA journal_mode=WAL")
            # As the store's connections (infra/db/engine.py): durable across process
            # crashes, the failure model; FULL paid an fsync per paused document.
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA busy_timeout=30000")
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            yield saver
        return
    if u.drivername.startswith("postgresql"):
        conninfo = u.set(drivername="postgresql").render_as_string(hide_password=False)
        options = f"-csearch_path={schema}" if schema else None
        kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        if options:
            kwargs["options"] = options
        # A pool that checks connections before lending them, not one connection: after
        # a PostgreSQL restart a single connection stays broken for good, and every
        # document would wait on it until the worker gave up.
        async with AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=4,
            kwargs=kwargs,
            check=AsyncConnectionPool.check_connection,
            reconnect_timeout=3600,
            open=False,
        ) as pool:
            pg = AsyncPostgresSaver(conn=pool)  # type: ignore[arg-type]
            await _setup_once(pool, pg, schema=schema)
            yield pg
        return
    raise ValueError(f"no checkpointer for database URL scheme {u.drivername!r}")


async def _setup_once(
    pool: AsyncConnectionPool[Any], saver: AsyncPostgresSaver, *, schema: str | None
) -> None:
    """LangGraph's `setup()` under a PostgreSQL advisory lock. Two workers starting on
    a fresh database both create the checkpoint tables; `CREATE TABLE IF NOT EXISTS`
    is not safe against a concurrent twin (the loser fails on the catalog's unique
    index, `pg_type_typname_nsp_index`), and the worker then stops. The lock makes the
    second wait for the first and find the tables made."""
    key = int.from_bytes(
        hashlib.sha256(f"autoclerk-checkpoints:{schema or ''}".encode()).digest()[:8], "big", signed=True
    )
    async with pool.connection() as conn:
        # Polled, not waited on: setup builds an index CONCURRENTLY, which waits for
        # every open statement's snapshot, a blocked pg_advisory_lock included, so a
        # waiting twin would deadlock it.
        while True:  # the lock lives in PostgreSQL: polled
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (key,))).fetchone()
            if row is not None and row["got"]:
                break
            await asyncio.sleep(0.05)
        try:
            await saver.setup()
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
