"""The durable LLM extraction cache: `llm_extractions`, keyed by the extractor's
content hash, on the worker's own database.

`SqlExtractionCache` matches `agents.extract.llm_cache.ExtractionCache` structurally
(infra may not import agents); the composition root puts it behind the in-process
LRU with `LayeredCache`. Every worker process and every restart shares it, so the
same content is paid for once per extractor version.

Database errors are not caught here. The worker's error policy (`autoclerk/runtime.py`
`RETRYABLE`, handled once at the stream edge) already treats an unavailable or locked
database as retryable: back off, then stop without acknowledging so the message comes
again. Degrading a failed `get` to a miss would pay the API for a document whose
outcome cannot be stored either (admission and the decision use this same database),
and would turn an outage into a quiet bill. Permanent SQL errors are bugs and fail
the document like any other workflow error.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy import bindparam, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from infra.db.tables import LlmExtractionRow, utcnow
from infra.db.transactions import AsyncTransactions, Transactions
from schemas.fields import Extraction

log = logging.getLogger(__name__)


class SqlExtractionCache:
    """Successful extractions by key; the first answer stored for a key is kept.

    Each get and put is one job of `transactions` (the worker passes its store's runner:
    `infra.db.transactions`) with a prebuilt statement. On SQLite that is one hop to
    the writer thread instead of aiosqlite's several (pool checkout, ping, execute,
    commit): measured at ~1.4 ms of CPU per document for a get and a put through the
    async engine, most of it on the event loop. Without one, the engine runs them.
    """

    def __init__(self, *, engine: AsyncEngine, transactions: Transactions | None = None) -> None:
        # Only the two databases autoclerk runs on: put needs their insert-on-conflict.
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise ValueError(f"no insert-on-conflict for the {engine.dialect.name} dialect")
        self._engine = engine
        self._tx = transactions or AsyncTransactions(engine)
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        # Two workers can pay for the same content at once; both answers are good, and
        # keeping the first means a reader never sees an entry change under it.
        self._put = insert(LlmExtractionRow).on_conflict_do_nothing(index_elements=["key"])

    async def get(self, key: str) -> Extraction | None:
        stored = await self._tx.run(lambda c: c.execute(_GET, {"key": key}).scalar_one_or_none())
        if stored is None:
            return None
        try:
            return Extraction.model_validate(stored)
        except ValidationError as exc:
            # Written by an older `Extraction` schema. The key cannot tell, so drop the
            # row: otherwise first-writer-wins would keep it, and the content would be
            # paid for again on every delivery.
            log.warning("llm cache: dropping unreadable entry %s: %s", key, exc.errors()[:1])
            async with self._engine.begin() as conn:
                await conn.execute(delete(LlmExtractionRow).where(col(LlmExtractionRow.key) == key))
            return None

    async def put(self, key: str, extraction: Extraction) -> None:
        row = {
            "key": key,
            "model_version": extraction.model_version,
            "result": extraction.model_dump(mode="json"),
            "created_at": utcnow(),
        }
        await self._tx.run(lambda c: c.execute(self._put, row))


_GET = select(LlmExtractionRow.result).where(col(LlmExtractionRow.key) == bindparam("key"))
