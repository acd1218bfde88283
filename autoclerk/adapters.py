"""The real adapters, each built from `Settings`: the bootstrap's helpers.

`autoclerk.bootstrap.open_runtime` calls `build_adapters`; the pieces are public for
the commands and benchmarks that need one of them alone (the LLM extractor, its cache).
Nothing here trains or checks a model: the paths handed in were vetted once, at start
(`feedback.models.ensure_models`), and each model is loaded here once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from agents.decode import DocumentLimits, PdfParser
from agents.extract.llm import LlmExtractor
from agents.extract.llm_cache import ExtractionCache, LayeredCache, LruExtractionCache
from agents.model_store import CLAIMS_RISK, EXTRACTOR, SERVED, TRIAGE, current, thresholds_path
from agents.ports import Extractor, RulesEvaluator, TriageClassifier
from agents.routing import RoutingPolicy
from agents.shadow import ShadowExtractor
from agents.triage.runtime import OnnxTriageClassifier
from autoclerk.shadow import with_shadow
from infra.errors import LlmUnavailable
from infra.llm import OpenAiChatClient
from infra.llm_cache import SqlExtractionCache
from infra.pdf import parse_pdf
from infra.settings import LlmSettings, Settings
from rules.evaluator import ZenRulesEvaluator
from schemas.document import Line, PageSize
from schemas.limits import RuleLimits


@dataclass
class Adapters:
    triage: TriageClassifier
    extractor: Extractor
    rules: RulesEvaluator
    parse_pdf: PdfParser
    routing: RoutingPolicy


class ModelsMissing(RuntimeError):
    """A served model has no CURRENT version: train it first (`autoclerk train …`)."""


def served_models(settings: Settings) -> dict[str, Path]:
    """The CURRENT artifact of each model a worker serves, as the registry points now."""
    found = {name: current(settings.models.dir, name) for name in SERVED}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise ModelsMissing(f"no trained {', '.join(missing)} in {settings.models.dir}")
    return {name: path for name, path in found.items() if path is not None}


def document_limits(settings: Settings) -> DocumentLimits:
    lim = settings.limits
    return DocumentLimits(
        max_text_chars=lim.max_text_chars, max_lines=lim.max_lines, max_line_chars=lim.max_line_chars
    )


def pdf_parser(settings: Settings) -> PdfParser:
    max_pages, max_area = settings.limits.max_pdf_pages, settings.limits.max_pdf_page_area

    def parse(data: bytes) -> tuple[list[Line], list[PageSize]]:
        return parse_pdf(data=data, max_pages=max_pages, max_page_area=max_area)

    return parse


def layered_cache(*, engine: AsyncEngine, max_entries: int = 10_000) -> ExtractionCache:
    """Recent answers in memory; every answer in `llm_extractions` on `engine`, so a
    replay after a restart or on another worker process is not paid for again."""
    return LayeredCache(
        front=LruExtractionCache(max_entries=max_entries), back=SqlExtractionCache(engine=engine)
    )


def build_llm_extractor(
    settings: LlmSettings,
    *,
    cache: ExtractionCache | None = None,
    budget_s: float | None = None,
    reasoning: bool = True,
) -> LlmExtractor:
    """An `Extractor` over `settings.base_url`; close it with `await extractor.aclose()`.

    The budget bounds one document's time with the server across all its attempts;
    by default four request timeouts, so a slow server gets a few chances before the
    document goes to review.
    """
    if not settings.model:
        raise ValueError("settings.llm.model is not set: the LLM extractor is disabled")
    return LlmExtractor(
        client=OpenAiChatClient.from_settings(settings),
        model=settings.model,
        retry_on=(LlmUnavailable,),
        budget_s=budget_s if budget_s is not None else 4 * settings.timeout_s,
        max_concurrency=settings.max_concurrency,
        cache=cache,
        reasoning=reasoning,
    )


def load_triage(settings: Settings, path: Path) -> OnnxTriageClassifier:
    return OnnxTriageClassifier.load(
        path,
        max_batch=settings.models.triage_max_batch,
        max_wait_ms=settings.models.triage_max_wait_ms,
        prefer_gpu=settings.models.prefer_gpu,
        # Auto-claim fraud model: trained by `autoclerk train claims-risk --csv …` on
        # data we may not ship, so it is used only where an operator trained it.
        claims_risk=current(settings.models.dir, CLAIMS_RISK),
    )


def build_extractor(settings: Settings, *, path: Path, engine: AsyncEngine) -> Extractor:
    """The LLM when one is configured, its answers cached in this database so no worker
    pays twice for the same content; otherwise the local model (no network)."""
    if settings.llm.enabled:
        return build_llm_extractor(settings.llm, cache=layered_cache(engine=engine))
    # imported here: its rankers are scikit-learn estimators, whose import a worker
    # extracting with an LLM need not pay
    from agents.extract.local import LocalExtractor

    return LocalExtractor.load(path)


def routing_policy(settings: Settings) -> RoutingPolicy:
    """The process's one routing policy: the fitted thresholds if `autoclerk routing fit`
    wrote them, else the settings; it also carries the limits the rules graphs read, and
    the review UI flags low confidence with it."""
    r = settings.routing
    return RoutingPolicy.load(
        path=thresholds_path(settings.models.dir),
        default_threshold=r.min_field_confidence,
        max_risk=r.max_risk,
        rule_limits=RuleLimits(high_risk=r.rule_high_risk, confidence_floor=r.rule_confidence_floor),
    )


@asynccontextmanager
async def open_adapters(
    settings: Settings, *, models: dict[str, Path], engine: AsyncEngine
) -> AsyncIterator[Adapters]:
    """Every adapter the workflow uses, each model loaded once; the triage batcher runs
    and the LLM client is open until the block ends."""
    triage = load_triage(settings, models[TRIAGE])
    routing = routing_policy(settings)
    extractor = with_shadow(
        settings,
        active=build_extractor(settings, path=models[EXTRACTOR], engine=engine),
        engine=engine,
        policy=routing,
    )
    adapters = Adapters(
        triage=triage,
        extractor=extractor,
        rules=ZenRulesEvaluator.load(settings.rules_dir, limits=routing.rule_limits),
        parse_pdf=pdf_parser(settings),
        routing=routing,
    )
    await triage.start()
    try:
        yield adapters
    finally:
        await triage.close()
        if isinstance(extractor, LlmExtractor | ShadowExtractor):
            await extractor.aclose()
