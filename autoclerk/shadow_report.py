"""`autoclerk models shadow-report REF`: the stored shadow readings and the reviews of
the same documents, handed to `feedback.shadow_report` (which may not import infra)."""

from __future__ import annotations

from agents.errors import UnknownModelRef
from agents.extract.local import read_metadata
from autoclerk.model_refs import resolve_model
from autoclerk.registry import registry_session
from feedback.shadow_report import ShadowReport, reviewer_gold, shadow_report
from infra.settings import Settings


def _matching(settings: Settings, ref: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(shadow refs, model versions) a shadow of `ref` stored its readings under: the ref
    as configured or as the registry names it (extractor/3), and a local artifact's own
    version string, so `extractor@challenger` finds what `extractor/3` stored."""
    if ref.startswith("llm:"):
        return (ref,), ()
    with registry_session(settings) as registry:
        resolved = resolve_model(settings, ref, registry=registry)
    versions = (str(read_metadata(resolved.path)["version"]),) if resolved.path is not None else ()
    return (ref, resolved.version), versions


async def report_from_store(*, settings: Settings, ref: str) -> ShadowReport:
    """`UnknownModelRef` when nothing is stored for `ref`."""
    from infra.db.engine import make_async_engine, migrate
    from infra.feedback_source import SqlReviewedSource
    from infra.shadow_store import SqlShadowStore

    refs, versions = _matching(settings, ref)
    migrate(settings.db.url)
    engine = make_async_engine(settings.db.url)
    try:
        predictions = await SqlShadowStore(engine=engine).predictions(
            shadow_refs=refs, model_versions=versions
        )
        if not predictions:
            raise UnknownModelRef(f"{ref!r}: no shadow readings stored for it in {engine.url.database}")
        ids = {p.document_id for p in predictions}
        gold = await reviewer_gold(source=SqlReviewedSource(engine=engine), document_ids=ids)
    finally:
        await engine.dispose()
    return shadow_report(ref=ref, predictions=predictions, gold=gold)
