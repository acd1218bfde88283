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
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from infra.db.tables import LlmExtractionRow, utcnow
from schemas.fields import Extraction

log = logging.getLogger(__name__)


class SqlExtractionCache:
    """Successful extractions by key; the first answer stored for a key is kept."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        # Only the two databases autoclerk runs on: put needs their insert-on-conflict.
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise ValueError(f"no insert-on-conflict for the {engine.dialect.name} dialect")
        self._engine = engine

    async def get(self, key: str) -> Extraction | None:
        q = select(LlmExtractionRow.result).where(col(LlmExtractionRow.key) == key)
        async with self._engine.connect() as conn:
            stored = (await conn.execute(q)).scalar_one_or_none()
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
        # Two workers can pay for the same content at once; both answers are good, and
        # keeping the first means a reader never sees an entry change under it.
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(LlmExtractionRow).values(**row).on_conflict_do_nothing(index_elements=["key"])
        async with self._engine.begin() as conn:
            await conn.execute(stmt)
