"""Workers that start together on a fresh database each set up LangGraph's checkpoint
tables: on PostgreSQL two concurrent `CREATE TABLE IF NOT EXISTS` collide on the
catalog's unique index, and the loser's worker stopped (seen in CI: two workers, the
concurrent-completions fault test). Setup now runs under an advisory lock."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from infra.checkpoint import open_checkpointer


async def test_four_checkpointers_set_up_at_once_on_a_fresh_schema(pg_schema: tuple[str, str]) -> None:
    url, schema = pg_schema
    async with AsyncExitStack() as stack:
        savers = await asyncio.gather(
            *(stack.enter_async_context(open_checkpointer(url, schema=schema)) for _ in range(4))
        )
        config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        for saver in savers:
            assert await saver.aget_tuple(config) is None  # the tables exist and answer


async def test_sqlite_checkpointers_set_up_at_once(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    async with AsyncExitStack() as stack:
        savers = await asyncio.gather(*(stack.enter_async_context(open_checkpointer(url)) for _ in range(4)))
        for saver in savers:
            assert await saver.aget_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}) is None
