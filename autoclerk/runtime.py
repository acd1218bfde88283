"""Build the real adapters from `Settings` and open everything a worker needs."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy.exc

from agents.decode import DocumentLimits, PdfParser
from agents.extract.errors import ModelArtifactError
from agents.extract.llm import LlmExtractor
from agents.extract.local import LocalExtractor, train_local_extractor
from agents.llm_retry import LlmRetrier
from agents.ports import Extractor
from agents.service import DocumentService
from agents.triage.runtime import OnnxTriageClassifier
from agents.triage.train import train_triage
from autoclerk.llm_wiring import build_llm_extractor, layered_cache
from autoclerk.models import current, train_and_promote, training_documents
from autoclerk.wiring import (
    Adapters,
    Database,
    build_llm_retrier,
    build_service,
    open_database,
    routing_policy,
)
from infra.errors import RetryableInfraError
from infra.pdf import parse_pdf
from infra.settings import Settings
from rules.evaluator import ZenRulesEvaluator
from schemas.document import Line, PageSize
from schemas.messages import Topics

# Database outages and lock timeouts pass; the edge retries, then restarts the worker.
RETRYABLE: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
    RetryableInfraError,
)


def unusable_reason(name: str, path: Path) -> str | None:
    """Why this code could not serve the artifact (None: it can), as the runtime checks."""
    if name == "extractor":
        try:
            LocalExtractor.load(path)
        except ModelArtifactError as exc:
            return str(exc)
        return None
    if name == "triage":  # load() never raises: an unusable artifact carries `failure`
        return OnnxTriageClassifier.load(path).failure
    return None if (path / "metadata.json").is_file() else f"{path} has no metadata.json"


def ensure_models(settings: Settings, *, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Train what is missing, or what this code can no longer load (a feature-version
    change), from the shipped data's training split."""
    found: dict[str, Path] = {}
    docs = None
    for name, trainer in (("extractor", train_local_extractor), ("triage", train_triage)):
        path = current(settings.models.dir, name)
        if path is None or unusable_reason(name, path) is not None:
            docs = docs if docs is not None else training_documents(settings.data_dir)
            log(f"training {name} on {len(docs)} labelled documents …")
            path = train_and_promote(
                models_dir=settings.models.dir, name=name, trainer=trainer, documents=docs
            )
        found[name] = path
    return found


def document_limits(settings: Settings) -> DocumentLimits:
    lim = settings.limits
    return DocumentLimits(
        max_text_chars=lim.max_text_chars, max_lines=lim.max_lines, max_line_chars=lim.max_line_chars
    )


def pdf_parser(settings: Settings) -> PdfParser:
    max_pages = settings.limits.max_pdf_pages

    def parse(data: bytes) -> tuple[list[Line], list[PageSize]]:
        return parse_pdf(data=data, max_pages=max_pages)

    return parse


@dataclass
class Runtime:
    service: DocumentService
    database: Database
    topics: Topics
    triage: OnnxTriageClassifier
    retrier: LlmRetrier | None = None
    """Set when an LLM extracts and `llm.retry_window_s` > 0."""


@asynccontextmanager
async def open_runtime(settings: Settings, *, schema: str | None = None) -> AsyncIterator[Runtime]:
    models = ensure_models(settings)
    triage = OnnxTriageClassifier.load(
        models["triage"],
        max_batch=settings.models.triage_max_batch,
        max_wait_ms=settings.models.triage_max_wait_ms,
        prefer_gpu=settings.models.prefer_gpu,
        # Auto-claim fraud model: trained by `autoclerk train claims-risk --csv …` on
        # data we may not ship, so it is used only where an operator trained it.
        claims_risk=current(settings.models.dir, "claims_risk"),
    )
    topics = Topics.with_prefix(settings.kafka.topic_prefix)
    async with open_database(settings.db.url, schema=schema) as db:
        # The LLM when one is configured, its answers cached in this database so no
        # worker pays twice for the same content; otherwise the local model (no network).
        extractor: Extractor = (
            build_llm_extractor(settings.llm, cache=layered_cache(engine=db.engine))
            if settings.llm.enabled
            else LocalExtractor.load(models["extractor"])
        )
        routing = routing_policy(settings)
        adapters = Adapters(
            triage=triage,
            extractor=extractor,
            rules=ZenRulesEvaluator.load(settings.rules_dir, limits=routing.rule_limits),
            parse_pdf=pdf_parser(settings),
            routing=routing,
        )
        await triage.start()
        try:
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
            yield Runtime(service=service, database=db, topics=topics, triage=triage, retrier=retrier)
        finally:
            await triage.close()
            if isinstance(extractor, LlmExtractor):
                await extractor.aclose()
