"""`shadow_predictions` on the worker's database: the `ShadowStore` that
`agents.shadow.ShadowExtractor` writes (matched structurally: infra may not import
agents) and the reader `autoclerk models shadow-report` uses.

Errors propagate; the shadow extractor logs and counts them, so a database problem
never touches the document the active model is deciding.
"""

from __future__ import annotations

from sqlalchemy import func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from infra.db.tables import ShadowPredictionRow, utcnow
from schemas.fields import Extraction
from schemas.shadow import ShadowPrediction


class SqlShadowStore:
    def __init__(self, *, engine: AsyncEngine) -> None:
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise ValueError(f"no insert-on-conflict for the {engine.dialect.name} dialect")
        self._engine = engine

    async def seen(self, *, document_id: str, model_version: str) -> bool:
        q = select(col(ShadowPredictionRow.id)).where(
            col(ShadowPredictionRow.document_id) == document_id,
            col(ShadowPredictionRow.model_version) == model_version,
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(q)).first() is not None

    async def spent_usd(self, *, model_version: str) -> float:
        q = select(func.coalesce(func.sum(ShadowPredictionRow.cost_usd), 0.0)).where(
            col(ShadowPredictionRow.model_version) == model_version
        )
        async with self._engine.connect() as conn:
            return float((await conn.execute(q)).scalar_one() or 0.0)

    async def record(self, prediction: ShadowPrediction) -> None:
        row = prediction.model_dump(mode="json", exclude={"created_at"})
        row["created_at"] = utcnow()
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        stmt = (
            insert(ShadowPredictionRow)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["document_id", "model_version"])
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def predictions(
        self, *, shadow_refs: tuple[str, ...], model_versions: tuple[str, ...] = ()
    ) -> list[ShadowPrediction]:
        """Every stored reading made under one of `shadow_refs` or by one of
        `model_versions`, oldest first."""
        where = or_(
            col(ShadowPredictionRow.shadow_ref).in_(shadow_refs),
            col(ShadowPredictionRow.model_version).in_(model_versions),
        )
        q = select(ShadowPredictionRow).where(where).order_by(col(ShadowPredictionRow.id))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        return [
            ShadowPrediction(
                document_id=r.document_id,
                shadow_ref=r.shadow_ref,
                model_version=r.model_version,
                active_version=r.active_version,
                kind=r.kind,
                active=Extraction.model_validate(r.active),
                shadow=Extraction.model_validate(r.shadow) if r.shadow is not None else None,
                failure=r.failure,
                active_straight_through=r.active_straight_through,
                shadow_straight_through=r.shadow_straight_through,
                cost_usd=r.cost_usd,
                latency_ms=r.latency_ms,
                created_at=r.created_at,
            )
            for r in rows
        ]
