"""What one process tells operators: Prometheus metrics, stage timings, trace spans, and
which document the current log line is about.

Why a process-wide `Telemetry` instead of one passed down like the settings: the hooks
sit in hot code on every layer (the service, the workflow nodes, the triage batcher, the
stream edge), and Prometheus scrapes one registry per process anyway. Nothing happens at
import: until the composition root calls `install`, every hook is a no-op, so tests and
tools that never install one pay one attribute read per hook.

Each `Telemetry` has its own `CollectorRegistry` (not prometheus_client's global one):
tests build as many as they like, and `/metrics` shows exactly our metrics.

Log context: `bind_document` sets the document and correlation ids in context variables.
Each message is handled in its own asyncio task (streams.window), which copies the
context, so the ids stay with that document and never leak into another one's lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from time import perf_counter
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from schemas.fields import Extraction

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = [
    "STAGES",
    "Telemetry",
    "active",
    "bind_document",
    "correlation_id_var",
    "count_dead_letter",
    "count_document",
    "count_review",
    "document_id_var",
    "document_span",
    "install",
    "observe_extraction",
    "observe_triage_batch",
    "stage",
]

STAGES = ("decode", "triage", "extract", "lookup", "rules", "store", "emit")
"""decode: parse, validate and admit to the ingest ledger; lookup: reference facts the
rules read; store: the outcome written with its outbox rows; emit: published and marked."""

# Seconds: one stage is sub-millisecond (rules) to tens of seconds (an LLM under retry).
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)

document_id_var: ContextVar[str | None] = ContextVar("autoclerk_document_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("autoclerk_correlation_id", default=None)
_root_span: ContextVar[Any] = ContextVar("autoclerk_root_span", default=None)


class Telemetry:
    """The metrics every process may record, in a registry of their own."""

    def __init__(self, *, registry: CollectorRegistry | None = None, tracer: Tracer | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.tracer = tracer
        self.documents = Counter(
            "autoclerk_documents",
            "Documents received, by kind and outcome (approve, reject, review, deadletter, duplicate)",
            ["kind", "outcome"],
            registry=r,
        )
        self.reviews = Counter(
            "autoclerk_reviews_completed",
            "Review answers applied, by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "autoclerk_stage_seconds",
            "Time per workflow stage",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.dead_letters = Counter(
            "autoclerk_dead_letters", "Messages dead-lettered, by error type", ["error_type"], registry=r
        )
        self.llm_tokens = Counter(
            "autoclerk_llm_tokens", "LLM tokens paid for, prompt or completion", ["type"], registry=r
        )
        self.llm_cost = Counter("autoclerk_llm_cost_usd", "Estimated LLM cost in US dollars", registry=r)
        self.llm_calls = Counter(
            "autoclerk_llm_extractions", "LLM extractions by cache result (hit, miss)", ["cache"], registry=r
        )
        self.llm_errors = Counter(
            "autoclerk_llm_errors",
            "LLM extractions that failed, by reason (llm_unavailable, llm_error, llm_refused, ...)",
            ["reason"],
            registry=r,
        )
        self.triage_batch = Histogram(
            "autoclerk_triage_batch_size",
            "Documents per triage model call",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )

    def observe_extraction(self, extraction: Extraction) -> None:
        """LLM usage from the extraction's notes (the LLM extractor writes them)."""
        notes = extraction.notes
        if extraction.failure and extraction.failure.startswith("llm_"):
            self.llm_errors.labels(extraction.failure.split(":", 1)[0]).inc()
        if "cache" not in notes:
            return  # the local extractor: no LLM involved
        self.llm_calls.labels(notes["cache"]).inc()
        for kind in ("prompt", "completion"):
            tokens = _number(notes.get(f"{kind}_tokens"))
            if tokens:
                self.llm_tokens.labels(kind).inc(tokens)
        cost = _number(notes.get("cost_usd"))
        if cost:
            self.llm_cost.inc(cost)


def _number(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


_active: Telemetry | None = None


def install(telemetry: Telemetry | None) -> None:
    """Make `telemetry` the process's (None: hooks become no-ops again)."""
    global _active
    _active = telemetry


def active() -> Telemetry | None:
    return _active


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time one stage (histogram) and, with a tracer, record it as a span."""
    t = _active
    if t is None:
        yield
        return
    span: AbstractContextManager[Any] = (
        t.tracer.start_as_current_span(name) if t.tracer is not None else nullcontext()
    )
    start = perf_counter()
    with span:
        try:
            yield
        finally:
            t.stage_seconds.labels(name).observe(perf_counter() - start)


@contextmanager
def document_span(name: str, **attributes: str | int) -> Iterator[None]:
    """The root span of one message's processing (stages are its children)."""
    t = _active
    if t is None or t.tracer is None:
        yield
        return
    with t.tracer.start_as_current_span(name, attributes=attributes) as span:
        token = _root_span.set(span)
        try:
            yield
        finally:
            _root_span.reset(token)


def bind_document(*, document_id: str, correlation_id: str | None) -> None:
    """Name the document this task is processing, for its log lines and its trace."""
    document_id_var.set(document_id)
    correlation_id_var.set(correlation_id)
    span = _root_span.get()
    if span is not None:
        span.set_attribute("autoclerk.document_id", document_id)
        if correlation_id:
            span.set_attribute("autoclerk.correlation_id", correlation_id)


def count_document(*, kind: str, outcome: str) -> None:
    if _active is not None:
        _active.documents.labels(kind, outcome).inc()


def count_review(*, kind: str, outcome: str) -> None:
    if _active is not None:
        _active.reviews.labels(kind, outcome).inc()


def count_dead_letter(*, error_type: str) -> None:
    if _active is not None:
        _active.dead_letters.labels(error_type).inc()


def observe_extraction(extraction: Extraction) -> None:
    if _active is not None:
        _active.observe_extraction(extraction)


def observe_triage_batch(size: int) -> None:
    if _active is not None:
        _active.triage_batch.observe(size)
