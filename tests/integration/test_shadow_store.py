"""`shadow_predictions` (migration 0015) on SQLite and PostgreSQL: a redelivery keeps the
first reading, spend is summed per version, readings come back as they went in."""

from __future__ import annotations

from infra.db.engine import make_async_engine, migrate
from infra.shadow_store import SqlShadowStore
from schemas.fields import ExtractedField, Extraction
from schemas.shadow import ShadowPrediction


def prediction(doc: str, version: str, *, total: str, cost: float | None) -> ShadowPrediction:
    def reading(v: str, value: str) -> Extraction:
        return Extraction(
            kind="invoice", fields={"total": ExtractedField(value=value, confidence=0.9)}, model_version=v
        )

    return ShadowPrediction(
        document_id=doc,
        shadow_ref="llm:gpt-4o-mini",
        model_version=version,
        active_version="local-1",
        kind="invoice",
        active=reading("local-1", "10.00"),
        shadow=reading(version, total),
        active_straight_through=True,
        shadow_straight_through=False,
        cost_usd=cost,
        latency_ms=12.5,
    )


async def test_record_is_idempotent_and_read_back(db: tuple[str, str | None]) -> None:
    url, schema = db
    migrate(url, schema=schema)
    engine = make_async_engine(url, schema=schema)
    try:
        store = SqlShadowStore(engine=engine)
        assert not await store.seen(document_id="d1", model_version="v2")
        await store.record(prediction("d1", "v2", total="11.00", cost=0.002))
        await store.record(prediction("d1", "v2", total="99.00", cost=0.5))  # redelivery: kept out
        await store.record(prediction("d2", "v2", total="12.00", cost=0.003))
        await store.record(prediction("d1", "v3", total="13.00", cost=None))  # another version
        assert await store.seen(document_id="d1", model_version="v2")
        assert abs(await store.spent_usd(model_version="v2") - 0.005) < 1e-12
        assert await store.spent_usd(model_version="v9") == 0.0
        rows = await store.predictions(shadow_refs=("llm:gpt-4o-mini",))
        assert [(r.document_id, r.model_version) for r in rows] == [("d1", "v2"), ("d2", "v2"), ("d1", "v3")]
        assert rows[0].shadow is not None and rows[0].shadow.value("total") == "11.00"
        assert rows[0].active.model_version == "local-1" and rows[0].created_at is not None
        assert len(await store.predictions(shadow_refs=("other",), model_versions=("v3",))) == 1
    finally:
        await engine.dispose()
