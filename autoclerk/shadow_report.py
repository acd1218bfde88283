"""`autoclerk models shadow-report REF`: the stored shadow readings and the reviews of
the same documents, handed to `feedback.shadow_report` (which may not import infra)."""

from __future__ import annotations

from agents.errors import UnknownModelRef
from autoclerk.model_refs import resolve_model
from feedback.shadow_report import ShadowReport, reviewer_gold, shadow_report
from infra.settings import Settings


async def report_from_store(*, settings: Settings, ref: str) -> ShadowReport:
    """Readings stored under `ref` as configured, or by the version it names now;
    `UnknownModelRef` when there are none."""
    from infra.db.engine import make_async_engine, migrate
    from infra.feedback_source import SqlReviewedSource
    from infra.shadow_store import SqlShadowStore

    versions: tuple[str, ...] = ()
    if not ref.startswith("llm:"):
        # an alias resolves to today's version; readings were stored under the version
        versions = (resolve_model(settings, ref).version,)
    migrate(settings.db.url)
    engine = make_async_engine(settings.db.url)
    try:
        predictions = await SqlShadowStore(engine=engine).predictions(shadow_ref=ref, model_versions=versions)
        if not predictions:
            raise UnknownModelRef(f"{ref!r}: no shadow readings stored for it in {engine.url.database}")
        ids = {p.document_id for p in predictions}
        gold = await reviewer_gold(source=SqlReviewedSource(engine=engine), document_ids=ids)
    finally:
        await engine.dispose()
    return shadow_report(ref=ref, predictions=predictions, gold=gold)
