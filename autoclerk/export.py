"""Reviewed documents out of the database into `feedback.export`: the SQL reader
(`infra.feedback_source`) wired to the exporter, which may not import infra itself."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from feedback.export import ExportFormat, ExportSummary
from infra.settings import Settings


async def export_from_store(
    *,
    settings: Settings,
    out: Path,
    since: datetime | None,
    fmt: ExportFormat = "labelled",
    scrub_pii: bool = False,
    pii_map: Path | None = None,
) -> ExportSummary:
    """Migrate if needed, read completed reviews, write them; returns the summary."""
    from feedback.export import export_reviews
    from infra.db.engine import make_async_engine, migrate
    from infra.feedback_source import SqlReviewedSource

    migrate(settings.db.url)
    engine = make_async_engine(settings.db.url)
    try:
        return await export_reviews(
            source=SqlReviewedSource(engine=engine),
            out=out,
            since=since,
            fmt=fmt,
            scrub_pii=scrub_pii,
            pii_map=pii_map,
        )
    finally:
        await engine.dispose()
