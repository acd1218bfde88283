"""The composition root: the one place that builds real adapters and wires the service.

Tests call `build_service` (and `build_llm_retrier`) with fakes of our own interfaces;
the worker calls `open_runtime`, which opens the database and builds the real adapters
from `Settings` (`autoclerk.adapters`) and hands them to the same functions. Models are
trained if missing once per worker start (`feedback.models.ensure_models`, before the
runtime opens), loaded here from the registry's active versions, and switched live
when those move (`autoclerk.served.ModelSwitch`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy.exc
from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.budget import DEFAULT_MAX_MESSAGE_BYTES
from agents.decode import DocumentLimits
from agents.graph import build_graph
from agents.llm_retry import LlmRetrier, RetryConfig
from agents.ports import DocumentStore
from agents.service import DocumentService, ServiceConfig
from agents.state import WorkflowContext
from autoclerk.adapters import Adapters, build_adapters, document_limits
from autoclerk.registry import SettingsRegistry, open_registry
from autoclerk.served import ModelSwitch, ServedModels, active_versions, load_served
from infra.checkpoint import open_checkpointer
from infra.db.engine import make_async_engine, migrate
from infra.db.transactions import Transactions, open_transactions
from infra.errors import RetryableInfraError
from infra.retry_store import SqlRetryStore
from infra.settings import LlmSettings, Settings
from infra.store import SqlStore
from schemas.fields import Extraction
from schemas.messages import Topics
from schemas.verdicts import ReferenceFacts

__all__ = [
    "RETRYABLE",
    "Adapters",
    "Database",
    "Runtime",
    "build_llm_retrier",
    "build_service",
    "open_database",
    "open_runtime",
    "workflow_context",
]

# Database outages and lock timeouts pass; the edge retries, then restarts the worker.
RETRYABLE: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
    RetryableInfraError,
)


def utc_clock() -> datetime:
    return datetime.now(UTC)


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
        model_refs=dict(adapters.model_refs),
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
    transactions: Transactions
    """The store's runner (one writer thread on SQLite), shared by the LLM cache."""


@asynccontextmanager
async def open_database(
    url: str, *, schema: str | None = None, reference_ttl_s: float = 30.0
) -> AsyncIterator[Database]:
    """Migrate, then open the engine, the store and the checkpointer on one database."""
    migrate(url, schema=schema)
    engine = make_async_engine(url, schema=schema)
    transactions = open_transactions(url, engine=engine, schema=schema)
    try:
        async with open_checkpointer(url, schema=schema) as saver:
            store = SqlStore(engine=engine, transactions=transactions, reference_ttl_s=reference_ttl_s)
            yield Database(engine=engine, store=store, checkpointer=saver, transactions=transactions)
    finally:
        await transactions.close()
        await engine.dispose()


@dataclass
class Runtime:
    service: DocumentService
    database: Database
    topics: Topics
    adapters: Adapters
    models: ModelSwitch
    """Switches `service` (and `retrier`) to the registry's active versions when they move."""
    retrier: LlmRetrier | None = None
    """Set when an LLM extracts and `llm.retry_window_s` > 0."""


@asynccontextmanager
async def _served(
    settings: Settings, *, engine: AsyncEngine, transactions: Transactions | None = None
) -> AsyncIterator[tuple[SettingsRegistry, ServedModels]]:
    registry = await asyncio.to_thread(open_registry, settings)  # migrates, imports the folder layout
    try:
        versions = await asyncio.to_thread(active_versions, registry)
        served = await asyncio.to_thread(
            load_served,
            settings,
            registry=registry,
            versions=versions,
            engine=engine,
            transactions=transactions,
        )
        yield registry, served
    finally:
        registry.close()


@asynccontextmanager
async def open_serving_adapters(settings: Settings, *, engine: AsyncEngine) -> AsyncIterator[Adapters]:
    """The adapters around the registry's active versions, for one-off runs (`replay`):
    loaded once, not switched live, closed when the block ends."""
    async with _served(settings, engine=engine) as (_, served):
        await served.start()
        try:
            yield build_adapters(
                settings, triage=served.triage, extractor=served.extractor, model_refs=served.refs
            )
        finally:
            await served.aclose()


@asynccontextmanager
async def open_runtime(settings: Settings, *, schema: str | None = None) -> AsyncIterator[Runtime]:
    """Everything a worker needs: the registry's active models, loaded once each."""
    topics = Topics.with_prefix(settings.kafka.topic_prefix)
    async with (
        open_database(settings.db.url, schema=schema, reference_ttl_s=settings.db.reference_ttl_s) as db,
        _served(settings, engine=db.engine, transactions=db.transactions) as (registry, served),
    ):
        adapters = build_adapters(
            settings, triage=served.triage, extractor=served.extractor, model_refs=served.refs
        )
        service = build_service(
            store=db.store,
            checkpointer=db.checkpointer,
            adapters=adapters,
            topics=topics,
            max_event_bytes=settings.kafka.max_event_bytes,
            max_message_bytes=settings.kafka.max_message_bytes,
            limits=document_limits(settings),
            sla_hours=settings.review.sla_hours,
            retryable=RETRYABLE,
        )
        retrier = (
            build_llm_retrier(
                engine=db.engine,
                store=db.store,
                checkpointer=db.checkpointer,
                adapters=adapters,
                topics=topics,
                llm=settings.llm,
                sla_hours=settings.review.sla_hours,
                retryable=RETRYABLE,
            )
            if settings.llm.enabled and settings.llm.retry_window_s > 0
            else None
        )

        def apply(new: ServedModels) -> None:
            swapped = replace(adapters, triage=new.triage, extractor=new.extractor, model_refs=new.refs)
            context = workflow_context(store=db.store, adapters=swapped)
            service.use_context(context)
            if retrier is not None:
                retrier.use_context(context)

        switch = ModelSwitch(
            settings=settings,
            registry=registry,
            engine=db.engine,
            current=served,
            apply=apply,
            transactions=db.transactions,
        )
        await served.start()
        try:
            yield Runtime(
                service=service, database=db, topics=topics, adapters=adapters, models=switch, retrier=retrier
            )
        finally:
            await switch.aclose()
