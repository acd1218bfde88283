"""LangGraph checkpointers on the same database as everything else.

Only documents waiting for a human keep a checkpoint that matters; the workflow
runs with `durability="exit"` so a straight-through document writes one.
"""

from __future__ import annotations

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
            await pg.setup()
            yield pg
        return
    raise ValueError(f"no checkpointer for database URL scheme {u.drivername!r}")
