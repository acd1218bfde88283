"""The one place that builds real adapters and wires the service.

Tests call `build_service` with fakes of our own interfaces; the CLI calls
`open_runtime`, which builds the real ones from `Settings`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.budget import DEFAULT_MAX_MESSAGE_BYTES
from agents.decode import DocumentLimits, PdfParser
from agents.graph import build_graph
from agents.llm_retry import LlmRetrier, RetryConfig
from agents.ports import DocumentStore, Extractor, RulesEvaluator, TriageClassifier
from agents.routing import RoutingPolicy
from agents.service import DocumentService, ServiceConfig
from agents.state import WorkflowContext
from infra.checkpoint import open_checkpointer
from infra.db.engine import make_async_engine, migrate
from infra.retry_store import SqlRetryStore
from infra.settings import LlmSettings, Settings
from infra.store import SqlStore
from schemas.fields import Extraction
from schemas.limits import RuleLimits
from schemas.messages import Topics
from schemas.verdicts import ReferenceFacts


def utc_clock() -> datetime:
    return datetime.now(UTC)


def routing_policy(settings: Settings) -> RoutingPolicy:
    """The process's one routing policy: the fitted thresholds if `autoclerk routing fit`
    wrote them, else the settings; it also carries the limits the rules graphs read, and
    the review UI flags low confidence with it."""
    r = settings.routing
    return RoutingPolicy.load(
        path=settings.models.dir / "routing" / "thresholds.json",
        default_threshold=r.min_field_confidence,
        max_risk=r.max_risk,
        rule_limits=RuleLimits(high_risk=r.rule_high_risk, confidence_floor=r.rule_confidence_floor),
    )


@dataclass
class Adapters:
    triage: TriageClassifier
    extractor: Extractor
    rules: RulesEvaluator
    parse_pdf: PdfParser
    routing: RoutingPolicy


def workflow_context(
    *, store: DocumentStore, adapters: Adapters, clock: Callable[[], datetime] = utc_clock
) -> WorkflowContext:
    async def reference(extraction: Extraction, document_id: str) -> ReferenceFacts:
        return await store.reference_facts(extraction=extraction, document_id=document_id)

    return WorkflowContext(
        triage=adapters.triage,
        extractor=adapters.extractor,
        rules=adapters.rules,
        reference=reference,
        routing=adapters.routing,
        clock=clock,
    )


def build_service(
    *,
    store: DocumentStore,
    checkpointer: BaseCheckpointSaver[Any] | None,
    adapters: Adapters,
    topics: Topics,
    max_event_bytes: int = 5_000_000,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    limits: DocumentLimits | None = None,
    sla_hours: float = 24.0,
    clock: Callable[[], datetime] = utc_clock,
    retryable: tuple[type[BaseException], ...] = (),
) -> DocumentService:
    return DocumentService(
        store=store,
        graph=build_graph(checkpointer=checkpointer),
        context=workflow_context(store=store, adapters=adapters, clock=clock),
        config=ServiceConfig(
            topics=topics,
            max_event_bytes=max_event_bytes,
            sla_hours=sla_hours,
            retryable=retryable,
            max_message_bytes=max_message_bytes,
            limits=limits or DocumentLimits(),
        ),
        parse_pdf=adapters.parse_pdf,
    )


def build_llm_retrier(
    *,
    engine: AsyncEngine,
    store: SqlStore,
    checkpointer: BaseCheckpointSaver[Any] | None,
    adapters: Adapters,
    topics: Topics,
    llm: LlmSettings,
    sla_hours: float = 24.0,
    clock: Callable[[], datetime] = utc_clock,
    retryable: tuple[type[BaseException], ...] = (),
) -> LlmRetrier:
    """Re-extraction of tasks an LLM outage sent to review, on the same checkpointer
    (a re-routed task's workflow must be resumable by any worker) and adapters."""
    return LlmRetrier(
        store=SqlRetryStore(engine=engine),
        graph=build_graph(checkpointer=checkpointer),
        context=workflow_context(store=store, adapters=adapters, clock=clock),
        config=RetryConfig(
            topics=topics,
            window=timedelta(seconds=llm.retry_window_s),
            batch=llm.retry_batch,
            sla_hours=sla_hours,
            retryable=retryable,
        ),
    )


@dataclass
class Database:
    engine: AsyncEngine
    store: SqlStore
    checkpointer: BaseCheckpointSaver[Any]


@asynccontextmanager
async def open_database(url: str, *, schema: str | None = None) -> AsyncIterator[Database]:
    """Migrate, then open the engine, the store and the checkpointer on one database."""
    migrate(url, schema=schema)
    engine = make_async_engine(url, schema=schema)
    try:
        async with open_checkpointer(url, schema=schema) as saver:
            yield Database(engine=engine, store=SqlStore(engine=engine), checkpointer=saver)
    finally:
        await engine.dispose()
