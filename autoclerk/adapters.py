"""The real adapters, each built from `Settings`: the bootstrap's helpers.

`autoclerk.bootstrap.open_runtime` calls `open_adapters`; the pieces are public for
the commands and benchmarks that need one of them alone (the LLM extractor, its cache).
Nothing here trains or checks a model: the models come loaded from the registry's
active versions (`autoclerk.served`), vetted before they became active.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from agents.decode import DocumentLimits, PdfParser
from agents.extract.llm import LlmExtractor
from agents.extract.llm_cache import ExtractionCache, LayeredCache, LruExtractionCache
from agents.model_store import thresholds_path
from agents.ports import Extractor, RulesEvaluator, TriageClassifier
from agents.routing import RoutingPolicy
from agents.triage.runtime import OnnxTriageClassifier
from infra.db.transactions import Transactions
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
    model_refs: dict[str, str] = field(default_factory=dict)
    """The registry versions of `triage` and `extractor` (`name → name/version`)."""


class ModelsMissing(RuntimeError):
    """A served model has no active version: train it first (`autoclerk train …`)."""


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


def layered_cache(
    *, engine: AsyncEngine, transactions: Transactions | None = None, max_entries: int = 10_000
) -> ExtractionCache:
    """Recent answers in memory; every answer in `llm_extractions` on `engine`, so a
    replay after a restart or on another worker process is not paid for again. With
    `transactions` (the worker's store runner) its statements run there."""
    back = SqlExtractionCache(engine=engine, transactions=transactions)
    return LayeredCache(front=LruExtractionCache(max_entries=max_entries), back=back)


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


def load_triage(settings: Settings, path: Path, *, claims_risk: Path | None = None) -> OnnxTriageClassifier:
    return OnnxTriageClassifier.load(
        path,
        max_batch=settings.models.triage_max_batch,
        max_wait_ms=settings.models.triage_max_wait_ms,
        prefer_gpu=settings.models.prefer_gpu,
        # Auto-claim fraud model: trained by `autoclerk train claims-risk --csv …` on
        # data we may not ship, so it is used only where an operator trained it.
        claims_risk=claims_risk,
    )


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


def build_adapters(
    settings: Settings, *, triage: TriageClassifier, extractor: Extractor, model_refs: dict[str, str]
) -> Adapters:
    """Every adapter the workflow uses, around models loaded (and later closed) by the caller."""
    routing = routing_policy(settings)
    return Adapters(
        triage=triage,
        extractor=extractor,
        rules=ZenRulesEvaluator.load(settings.rules_dir, limits=routing.rule_limits),
        parse_pdf=pdf_parser(settings),
        routing=routing,
        model_refs=model_refs,
    )
