"""The durable LLM extraction cache on SQLite and PostgreSQL, alone and behind the
LLM extractor talking real HTTP to the local scripted OpenAI-compatible server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from autoclerk.adapters import build_llm_extractor, layered_cache
from infra.db.engine import make_async_engine, migrate
from infra.db.tables import LlmExtractionRow, utcnow
from infra.db.transactions import open_transactions
from infra.llm_cache import SqlExtractionCache
from infra.settings import LlmSettings
from schemas.fields import ExtractedField, Extraction
from tests.integration.test_llm_extractor import CLAIM, GOOD
from tests.llm_server import Reply, ScriptedLlmServer

OpenEngine = Callable[[], Awaitable[AsyncEngine]]


def _extraction(name: str) -> Extraction:
    return Extraction(
        kind="claim",
        fields={"claimant_name": ExtractedField(value=name, confidence=0.97)},
        model_version="llm:test:v1",
        notes={"cache": "miss", "cost_usd": "0.00012000"},
    )


@pytest.fixture
async def open_engine(db: tuple[str, str | None]) -> AsyncIterator[OpenEngine]:
    """A migrated database; each call is a new engine on it, as a new worker would open."""
    url, schema = db
    migrate(url, schema=schema)
    engines: list[AsyncEngine] = []

    async def open_() -> AsyncEngine:
        engines.append(make_async_engine(url, schema=schema))
        return engines[-1]

    yield open_
    for engine in engines:
        await engine.dispose()


async def test_round_trip_first_writer_wins_and_a_restarted_worker_finds_it(open_engine: OpenEngine) -> None:
    cache = SqlExtractionCache(engine=await open_engine())
    assert await cache.get("k1") is None
    await cache.put("k1", _extraction("Jane Doe"))
    assert await cache.get("k1") == _extraction("Jane Doe")

    await cache.put("k1", _extraction("Someone Else"))  # the race lost: no error, first kept
    assert await cache.get("k1") == _extraction("Jane Doe")

    restarted = SqlExtractionCache(engine=await open_engine())
    assert await restarted.get("k1") == _extraction("Jane Doe")
    assert await restarted.get("k2") is None


async def test_through_the_store_runner_the_same_rows(
    db: tuple[str, str | None], open_engine: OpenEngine
) -> None:
    """A worker runs the cache's statements on its store's runner (the SQLite writer
    thread); what it stores is what the engine path reads, and the other way round."""
    url, schema = db
    engine = await open_engine()
    tx = open_transactions(url, engine=engine, schema=schema)
    try:
        cache = SqlExtractionCache(engine=engine, transactions=tx)
        assert await cache.get("r1") is None
        await asyncio.gather(cache.put("r1", _extraction("Jane Doe")), cache.put("r2", _extraction("Ann")))
        await cache.put("r1", _extraction("Someone Else"))  # first kept
        other = SqlExtractionCache(engine=await open_engine())
        assert await other.get("r1") == _extraction("Jane Doe")
        await other.put("r3", _extraction("Bob"))
        assert await cache.get("r3") == _extraction("Bob")
        assert await cache.get("r2") == _extraction("Ann")
    finally:
        await tx.close()


async def test_two_workers_putting_the_same_key_at_once_keep_one_row(open_engine: OpenEngine) -> None:
    a, b = SqlExtractionCache(engine=await open_engine()), SqlExtractionCache(engine=await open_engine())
    await asyncio.gather(a.put("k", _extraction("A")), b.put("k", _extraction("B")))
    found = await a.get("k")
    assert found in (_extraction("A"), _extraction("B"))
    assert await b.get("k") == found


async def test_an_entry_that_no_longer_validates_is_dropped_and_replaced(open_engine: OpenEngine) -> None:
    engine = await open_engine()
    async with engine.begin() as conn:
        stale = {"kind": "claim", "fields": "not a mapping", "model_version": "llm:test:v0"}
        row = {"key": "k", "model_version": "llm:test:v0", "result": stale, "created_at": utcnow()}
        await conn.execute(insert(LlmExtractionRow).values(**row))
    cache = SqlExtractionCache(engine=engine)
    assert await cache.get("k") is None
    await cache.put("k", _extraction("Jane Doe"))  # not blocked by the unreadable row
    assert await cache.get("k") == _extraction("Jane Doe")


@pytest.fixture
def server() -> Iterator[ScriptedLlmServer]:
    with ScriptedLlmServer(default=Reply(fields=GOOD)) as s:
        yield s


async def test_a_document_seen_by_one_worker_is_not_paid_for_by_the_next(
    server: ScriptedLlmServer, open_engine: OpenEngine
) -> None:
    settings = LlmSettings(base_url=server.url, model="gpt-4o-mini", timeout_s=0.5, max_concurrency=4)
    first = build_llm_extractor(settings, budget_s=1.5, cache=layered_cache(engine=await open_engine()))
    try:
        paid = await first.extract(CLAIM)
    finally:
        await first.aclose()
    assert paid.failure is None and paid.notes["cache"] == "miss" and float(paid.notes["cost_usd"]) > 0
    assert len(server.requests) == 1

    # a restarted worker: a fresh LRU and engine over the same database
    second = build_llm_extractor(settings, budget_s=1.5, cache=layered_cache(engine=await open_engine()))
    try:
        replay = await second.extract(CLAIM.model_copy(update={"document_id": "claim-1-elsewhere"}))

        server.push(Reply(content='{"reasoning": "ok", "fields": {"claimant_name": "Jane'))
        other = CLAIM.model_copy(update={"claim_type": "other"})
        failed = await second.extract(other)
        retried = await second.extract(other)
    finally:
        await second.aclose()
    assert len(server.requests) == 3  # the replay cost nothing; the failure was not cached
    assert replay.fields == paid.fields and replay.model_version == paid.model_version
    assert replay.notes["cache"] == "hit" and replay.notes["cost_usd"] == "0"
    assert replay.notes["prompt_tokens"] == "0" and replay.notes["completion_tokens"] == "0"
    assert failed.failure is not None and failed.failure.startswith("llm_invalid_output")
    assert retried.failure is None and retried.notes["cache"] == "miss"


async def test_a_failed_extraction_is_not_stored(server: ScriptedLlmServer, open_engine: OpenEngine) -> None:
    settings = LlmSettings(base_url=server.url, model="gpt-4o-mini", timeout_s=0.5, max_concurrency=4)
    engine = await open_engine()
    extractor = build_llm_extractor(settings, budget_s=1.5, cache=layered_cache(engine=engine))
    server.push(Reply(refusal="I can't assist with that request."))
    try:
        refused = await extractor.extract(CLAIM)
    finally:
        await extractor.aclose()
    assert refused.failure is not None and refused.failure.startswith("llm_refused")
    assert await SqlExtractionCache(engine=engine).get(extractor.cache_key(CLAIM)) is None
