"""Caches of LLM extractions keyed by document content, so a replayed or redelivered
document is not paid for twice.

`ExtractionCache` is the seam: `LruExtractionCache` keeps recent answers in this
process; the durable one (`infra.llm_cache.SqlExtractionCache`, a table every
worker shares) plugs in behind it through `LayeredCache`, wired by the composition
root. Only successful extractions are stored: a failure may have been transient,
and a replay should get a fresh chance.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, runtime_checkable

from schemas.fields import Extraction


@runtime_checkable
class ExtractionCache(Protocol):
    async def get(self, key: str) -> Extraction | None: ...

    async def put(self, key: str, extraction: Extraction) -> None: ...


class LruExtractionCache:
    """In-process, least recently used entries evicted first."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._entries: OrderedDict[str, Extraction] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> Extraction | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    async def put(self, key: str, extraction: Extraction) -> None:
        self._entries[key] = extraction
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


class LayeredCache:
    """A fast cache in front of a durable one; durable hits warm the fast one."""

    def __init__(self, *, front: ExtractionCache, back: ExtractionCache) -> None:
        self._front = front
        self._back = back

    async def get(self, key: str) -> Extraction | None:
        found = await self._front.get(key)
        if found is None:
            found = await self._back.get(key)
            if found is not None:
                await self._front.put(key, found)
        return found

    async def put(self, key: str, extraction: Extraction) -> None:
        # Front first: the answer is already paid for, so if the durable store fails
        # (its error propagates; a database outage is retried) this process's retry of
        # the same document still finds it.
        await self._front.put(key, extraction)
        await self._back.put(key, extraction)
